//! What deals contribute to tier requirements (ADR 0011: a crate defines its metrics, the binary
//! registers them): the deals a partner won in the program over the trailing twelve months, by
//! count and by revenue. Per program: a partner's tier in the Resellers program counts the deals
//! registered there. Revenue is in whole units of the program's currency (deals in another
//! currency are not converted and do not count), the full amount of each deal the partner
//! registered.

use trellis_db::sql;
use trellis_directory::metric_registry::{Metric, MetricFuture, MetricType, MetricValue, Source, Subject, Unit};
use trellis_identity::ScopedTx;

/// The trailing window of the won-deal metrics.
const WINDOW_SECONDS: i64 = 365 * 86_400;

pub const WON_DEALS_12M: Metric = Metric {
    name: "won_deals_12m",
    label: "Deals won in the last 12 months",
    unit: Some(Unit { one: "deal won in the last 12 months", other: "deals won in the last 12 months" }),
    kind: MetricType::Integer,
    description: "Registered deals the partner won in this program over the last 12 months",
    per_program: true,
    source: Source::Computed(won_deals),
};

pub const WON_REVENUE_12M: Metric = Metric {
    name: "won_revenue_12m",
    label: "Revenue won in the last 12 months",
    unit: Some(Unit {
        one: "unit of the program's currency won in the last 12 months",
        other: "units of the program's currency won in the last 12 months",
    }),
    kind: MetricType::Integer,
    description: "Amount of the deals the partner won in this program over the last 12 months, in whole units of the program's currency",
    per_program: true,
    source: Source::Computed(won_revenue),
};

/// Both, in the order the API and the pages list them.
pub const METRICS: &[Metric] = &[WON_DEALS_12M, WON_REVENUE_12M];

fn won_deals<'a>(tx: &'a mut ScopedTx, subject: &'a Subject) -> MetricFuture<'a> {
    Box::pin(async move {
        let Some((program_id, _)) = &subject.enrollment else { return Ok(None) };
        let n = tx
            .fetch_i64(sql!(
                "SELECT COUNT(*) AS n FROM deals WHERE workspace_id = $1 AND partner_id = $2 AND program_id = $3 AND status = 'won' AND closed_at >= $4",
                subject.workspace_id,
                subject.partner_id,
                program_id,
                subject.now.plus_seconds(-WINDOW_SECONDS)
            ))
            .await?;
        Ok(Some(MetricValue::Integer(n)))
    })
}

fn won_revenue<'a>(tx: &'a mut ScopedTx, subject: &'a Subject) -> MetricFuture<'a> {
    Box::pin(async move {
        let Some((program_id, _)) = &subject.enrollment else { return Ok(None) };
        let program = trellis_programs::programs::get_in(tx, &subject.workspace_id, program_id).await?;
        let minor = tx
            .fetch_i64(sql!(
                "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM deals
                 WHERE workspace_id = $1 AND partner_id = $2 AND program_id = $3 AND status = 'won' AND closed_at >= $4 AND currency = $5",
                subject.workspace_id,
                subject.partner_id,
                program_id,
                subject.now.plus_seconds(-WINDOW_SECONDS),
                program.currency.clone()
            ))
            .await?;
        let exponent = trellis_core::Currency::parse(&program.currency).map(|c| c.exponent()).unwrap_or(2);
        Ok(Some(MetricValue::Integer(minor / 10_i64.pow(u32::from(exponent)))))
    })
}
