-- Payout runs claim ranges, not rows (issue 10, ADR 0020). A commission that becomes payable
-- takes the next number of its workspace and currency (`payout_claims.last_seq`, counted
-- while the writer holds the workspace's audit head, so numbers follow commit order); a run
-- claims every payable commission numbered after the last run's watermark up to its own
-- (`claimed_through`), and a left-out partner's backlog, by writing its items with their ranges —
-- no commission row is written. A commission's status and account follow from its run's item
-- (the view below); every commission of a cancelled run is numbered again, after the watermark.

ALTER TABLE commissions ADD COLUMN payable_seq INTEGER;
ALTER TABLE payout_claims ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payout_claims ADD COLUMN claimed_through INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payout_items ADD COLUMN after_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payout_items ADD COLUMN through_seq INTEGER NOT NULL DEFAULT 0;

-- Runs made before keep their commissions: the k-th run (not cancelled) of a workspace and
-- currency, oldest first, claims the range (k - 1, k], its commissions numbered k; they are
-- stored `payable` and their run's item says the rest.
UPDATE payout_items SET through_seq = (
    SELECT COUNT(*) FROM payout_runs r, payout_runs o
     WHERE r.workspace_id = payout_items.workspace_id AND r.id = payout_items.payout_run_id
       AND o.workspace_id = r.workspace_id AND o.currency = r.currency AND o.status <> 'cancelled'
       AND (o.created_at < r.created_at OR (o.created_at = r.created_at AND o.id <= r.id)))
 WHERE run_status <> 'cancelled';
UPDATE payout_items SET after_seq = through_seq - 1 WHERE run_status <> 'cancelled';
UPDATE commissions SET status = 'payable', account = 'commission_payable', payable_seq = (
    SELECT i.through_seq FROM payout_items i
     WHERE i.workspace_id = commissions.workspace_id AND i.payout_run_id = commissions.payout_run_id AND i.partner_id = commissions.partner_id),
    payout_run_id = NULL
 WHERE status IN ('in_payout', 'paid');
INSERT INTO payout_claims (workspace_id, currency, claimed_at, last_seq, claimed_through)
SELECT workspace_id, currency, 0, 0, 0 FROM commissions GROUP BY workspace_id, currency
ON CONFLICT (workspace_id, currency) DO NOTHING;
UPDATE payout_claims SET claimed_through = (
    SELECT COUNT(*) FROM payout_runs r
     WHERE r.workspace_id = payout_claims.workspace_id AND r.currency = payout_claims.currency AND r.status <> 'cancelled');
UPDATE payout_claims SET last_seq = claimed_through + 1;
UPDATE commissions SET payable_seq = (
    SELECT k.last_seq FROM payout_claims k WHERE k.workspace_id = commissions.workspace_id AND k.currency = commissions.currency)
 WHERE status = 'payable' AND payable_seq IS NULL;

-- The partners a run left out, by currency: their payable commissions numbered after `after_seq`
-- (up to the watermark) are unclaimed, and the next run reads them again.
CREATE TABLE payout_backlog (
    workspace_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    after_seq INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, currency, partner_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;

DROP INDEX commissions_payable;
DROP INDEX commissions_by_payout_run;
ALTER TABLE commissions DROP COLUMN payout_run_id;
-- Gathering a run: the payable commissions of a currency numbered after the last watermark.
CREATE INDEX commissions_claimable ON commissions (workspace_id, currency, payable_seq, partner_id, amount_minor) WHERE status = 'payable';
-- A partner's commissions in a run's range (its statement; numbering a skipped partner's again).
CREATE INDEX commissions_claimed ON commissions (workspace_id, partner_id, currency, payable_seq);
-- A commission's item: the partner's items of the currency by the end of their range.
CREATE INDEX payout_items_by_range ON payout_items (workspace_id, partner_id, currency, through_seq);

-- Commissions as they stand: a payable commission inside a live run's range is `in_payout`
-- (its money in payable, then payout clearing) until the run is paid, then `paid`. Every read
-- of a commission goes through this view; writes go to the table.
CREATE VIEW commission_states AS
SELECT c.workspace_id, c.id, c.partner_id, c.program_id, c.conversion_id, c.kind, c.amount_minor, c.currency,
       c.basis_minor, c.rate_bps, c.share_bps, c.plan_version,
       CASE WHEN i.payout_run_id IS NULL THEN c.status WHEN i.run_status = 'paid' THEN 'paid' ELSE 'in_payout' END AS status,
       c.hold_reason, c.reason_code, c.note,
       CASE WHEN i.payout_run_id IS NULL THEN c.account
            WHEN i.run_status = 'paid' THEN 'commission_paid'
            WHEN i.run_status = 'approved' THEN 'payout_clearing'
            ELSE 'commission_payable' END AS account,
       c.invoice_id, c.invoice_paid_at, c.payable_at, c.adjusts_commission_id,
       i.payout_run_id,
       c.payable_seq, c.created_by_user_id, c.created_at, c.updated_at
  FROM commissions c
  LEFT JOIN payout_items i
    ON c.status = 'payable' AND i.workspace_id = c.workspace_id AND i.partner_id = c.partner_id AND i.currency = c.currency
   AND c.payable_seq > i.after_seq AND c.payable_seq <= i.through_seq AND i.run_status <> 'cancelled';
