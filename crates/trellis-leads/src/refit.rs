//! The daily refit (ADR 0028): per program, the weights are fitted to the outcomes of its offers
//! (the factor values at the time of each offer, and whether the lead was won through it), and
//! the fitted model is adopted only when it ranks the most recent quarter of the outcomes — held
//! out of the fit — better than the weights as set (the area under the ROC curve of each score).
//! Otherwise the program keeps its weights, and the summary says why.

use std::collections::HashMap;

use serde_json::json;
use trellis_core::{ProgramId, Result, Timestamp, WorkspaceId};
use trellis_db::{Tx, sql};
use trellis_identity::Ctx;

use crate::matching::{self, FACTORS, Factor, Weights};
use crate::routing::LEAD_ROUTING;
use crate::settings::{self, fitted_json};

/// What one refit of one program found.
#[derive(Debug, Clone, PartialEq)]
pub struct RefitSummary {
    pub program_id: ProgramId,
    pub outcomes: usize,
    pub adopted: bool,
    /// Area under the ROC curve on the held-out outcomes: the set weights, the fitted ones.
    pub auc_set: Option<f64>,
    pub auc_fitted: Option<f64>,
}

/// The probability that a won outcome scores above a not-won one (ties count half); `None`
/// without both kinds.
pub fn auc(scored: &[(f64, bool)]) -> Option<f64> {
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let wins = sorted.iter().filter(|(_, won)| *won).count();
    let losses = sorted.len() - wins;
    if wins == 0 || losses == 0 {
        return None;
    }
    // Rank-sum (Mann–Whitney U) with average ranks for ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1].0 == sorted[i].0 {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += average_rank * sorted[i..=j].iter().filter(|(_, won)| *won).count() as f64;
        i = j + 1;
    }
    let u = rank_sum - (wins * (wins + 1)) as f64 / 2.0;
    Some(u / (wins * losses) as f64)
}

fn score_of(weights: &Weights, x: &[f64; FACTORS]) -> f64 {
    matching::score(weights, (), x).score
}

/// The answered offers of a program, oldest first: factor values and whether won.
async fn outcomes_in(tx: &mut Tx, workspace_id: &WorkspaceId, program_id: &ProgramId) -> Result<Vec<([f64; FACTORS], bool)>> {
    let rows = tx
        .fetch_all(sql!(
            "SELECT o.reasons, o.outcome, d.status AS deal_status, l.current_offer_id, o.id
               FROM lead_offers o JOIN leads l ON l.workspace_id = o.workspace_id AND l.id = o.lead_id
               LEFT JOIN deals d ON d.workspace_id = l.workspace_id AND d.id = l.deal_id
              WHERE o.workspace_id = $1 AND l.program_id = $2 AND o.outcome IN ('accepted', 'declined', 'expired', 'returned')
              ORDER BY o.offered_at, o.id",
            workspace_id,
            program_id
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let outcome: String = row.get("outcome")?;
        let deal_status: Option<String> = row.get("deal_status")?;
        // An accepted offer is an outcome once its deal closed (won or lost); until then it waits.
        let won = match (outcome.as_str(), deal_status.as_deref()) {
            ("accepted", Some("won")) => true,
            ("accepted", Some("lost" | "rejected" | "expired")) => false,
            ("accepted", _) => continue,
            _ => false,
        };
        let reasons: String = row.get("reasons")?;
        let values: Vec<serde_json::Value> = serde_json::from_str(&reasons).unwrap_or_default();
        let by_name: HashMap<&str, f64> = values.iter().filter_map(|v| Some((v["factor"].as_str()?, v["value"].as_f64()?))).collect();
        let mut x = [0.0; FACTORS];
        for (i, factor) in Factor::ALL.iter().enumerate() {
            x[i] = by_name.get(factor.as_str()).copied().unwrap_or(0.0);
        }
        out.push((x, won));
    }
    Ok(out)
}

/// Refits every program of the workspace that has lead offers; answers what each refit found.
pub async fn refit_all(ctx: &Ctx, workspace_id: &WorkspaceId) -> Result<Vec<RefitSummary>> {
    let now = ctx.now();
    let mut tx = ctx.db().write_granted(&LEAD_ROUTING).await?;
    let programs = tx
        .fetch_all(sql!(
            "SELECT DISTINCT program_id FROM leads WHERE workspace_id = $1 AND program_id IS NOT NULL AND deal_id IS NOT NULL ORDER BY program_id",
            workspace_id
        ))
        .await?;
    let mut summaries = Vec::new();
    for row in programs {
        let program_id: ProgramId = row.get("program_id")?;
        let summary = refit_in(&mut tx, workspace_id, &program_id, now).await?;
        summaries.push(summary);
    }
    tx.commit().await?;
    Ok(summaries)
}

/// What a refit decides from a program's outcomes (oldest first) and its weights as set.
#[derive(Debug, Clone)]
pub struct Decision {
    pub held_out: usize,
    pub auc_set: Option<f64>,
    pub auc_fitted: Option<f64>,
    /// The model to rank by: fitted on every outcome once the fit on the older three quarters
    /// ranked the newest quarter better than the weights as set; `None` keeps those.
    pub in_force: Option<Weights>,
}

/// Fits the older three quarters of `outcomes`, compares the fit with `set` on the newest
/// quarter (area under the ROC curve), and adopts a model only when it ranks them better.
pub fn decide(outcomes: &[([f64; FACTORS], bool)], set: &Weights) -> Decision {
    let split = outcomes.len() * 3 / 4;
    let (train, held_out) = outcomes.split_at(split);
    let fitted = matching::fit(train, set);
    let scored = |weights: &Weights| held_out.iter().map(|(x, won)| (score_of(weights, x), *won)).collect::<Vec<_>>();
    let auc_set = auc(&scored(set));
    let auc_fitted = fitted.as_ref().and_then(|w| auc(&scored(w)));
    let adopted = matches!((auc_set, auc_fitted), (Some(a), Some(b)) if b > a);
    let in_force = if adopted { matching::fit(outcomes, set).or(fitted) } else { None };
    Decision { held_out: held_out.len(), auc_set, auc_fitted, in_force }
}

async fn refit_in(tx: &mut Tx, workspace_id: &WorkspaceId, program_id: &ProgramId, now: Timestamp) -> Result<RefitSummary> {
    let set = settings::of_in(tx, workspace_id, Some(program_id)).await?;
    let outcomes = outcomes_in(tx, workspace_id, program_id).await?;
    let decision = decide(&outcomes, &set.weights);
    let adopted = decision.in_force.is_some();
    let summary = json!({
        "outcomes": outcomes.len(), "held_out": decision.held_out, "auc_set": decision.auc_set, "auc_fitted": decision.auc_fitted,
        "adopted": adopted, "minimum": matching::MIN_OUTCOMES,
    })
    .to_string();
    tx.execute(sql!(
        "INSERT INTO lead_settings (workspace_id, program_id, weights, fitted_weights, fitted_at, fit_summary, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $5)
         ON CONFLICT (workspace_id, program_id) DO UPDATE SET fitted_weights = $4, fitted_at = $5, fit_summary = $6",
        workspace_id,
        program_id,
        settings::weights_json(&set.weights),
        decision.in_force.as_ref().map(fitted_json),
        now,
        summary
    ))
    .await?;
    Ok(RefitSummary {
        program_id: program_id.clone(),
        outcomes: outcomes.len(),
        adopted,
        auc_set: decision.auc_set,
        auc_fitted: decision.auc_fitted,
    })
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn auc_is_one_for_a_perfect_ranking_one_half_for_ties_and_none_without_both_kinds() {
        assert_eq!(auc(&[(0.1, false), (0.2, false), (0.8, true), (0.9, true)]), Some(1.0));
        assert_eq!(auc(&[(0.9, false), (0.1, true)]), Some(0.0));
        assert_eq!(auc(&[(0.5, false), (0.5, true)]), Some(0.5));
        assert_eq!(auc(&[(0.5, true), (0.7, true)]), None);
    }

    /// Outcomes whose chance to win rises with responsiveness only, the factor the set weights
    /// give nothing, while territory (which they trust most) decides nothing.
    fn outcomes(n: usize, seed: u64) -> Vec<([f64; FACTORS], bool)> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let mut x = [0.0; FACTORS];
                for v in &mut x {
                    *v = rng.random::<f64>();
                }
                let responsiveness = x[Factor::ALL.iter().position(|f| *f == Factor::Responsiveness).unwrap_or(0)];
                let won = rng.random::<f64>() < 0.1 + 0.8 * responsiveness;
                (x, won)
            })
            .collect()
    }

    #[test]
    fn a_fitted_model_is_adopted_only_when_it_ranks_the_held_out_outcomes_better_and_never_from_too_few() {
        let set =
            Weights::manual(Factor::ALL.iter().map(|f| (*f, if *f == Factor::Responsiveness { 0.0 } else { Weights::default().of(*f) })));
        let many = decide(&outcomes(2_000, 7), &set);
        let (a, b) = (many.auc_set.expect("auc of the set weights"), many.auc_fitted.expect("auc of the fit"));
        assert!(b > a + 0.1, "the fit finds responsiveness: {a:.3} → {b:.3}");
        let adopted = many.in_force.expect("adopted");
        assert!(adopted.is_fitted() && adopted.of(Factor::Responsiveness) > adopted.of(Factor::Territory));

        let few = decide(&outcomes(150, 7), &set);
        assert!(few.in_force.is_none() && few.auc_fitted.is_none(), "200 outcomes at least");

        // Set weights that already rank by what decides: the fit cannot do better by much, and a
        // model that does not beat them is not adopted.
        let right = Weights::manual(Factor::ALL.iter().map(|f| (*f, if *f == Factor::Responsiveness { 100.0 } else { 0.0 })));
        let kept = decide(&outcomes(2_000, 8), &right);
        assert_eq!(kept.in_force.is_some(), kept.auc_fitted > kept.auc_set, "adopted exactly when it ranks better");
    }
}
