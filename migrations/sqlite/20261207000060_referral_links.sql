-- Referral links, clicks and their daily counts (issue 11, crates/trellis-tracking). Clicks are
-- written by the click writer in batches; the daily counts move once per batch, and a link's
-- total is the sum of its days: no counter row is updated per click.

-- The instance's click signing key (click ids are signed, trellis_tracking::click_ids): one row,
-- created by the first server that needs it and shared by every server of the database.
CREATE TABLE click_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE referral_links (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    -- The program its conversions earn in; null: the partner's only program with a plan.
    program_id TEXT,
    -- /r/{code}: unique across the instance (one redirect route serves every workspace).
    code TEXT NOT NULL,
    vanity INTEGER NOT NULL DEFAULT 0 CHECK (vanity IN (0, 1)),
    -- The destination as parsed and checked against the workspace's allowed domains.
    destination_url TEXT NOT NULL,
    -- UTM parameters added to the destination (JSON object; the destination's own win).
    utm TEXT NOT NULL DEFAULT '{}',
    name TEXT NOT NULL DEFAULT '',
    disabled_at INTEGER,
    -- The change feed of the servers' in-memory link tables: a change takes the next number.
    change_seq INTEGER NOT NULL,
    created_by_user_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;
CREATE UNIQUE INDEX referral_links_by_code ON referral_links (code);
CREATE INDEX referral_links_by_partner ON referral_links (workspace_id, partner_id, id);
CREATE INDEX referral_links_by_change ON referral_links (change_seq);

-- The last number of the link change feed (one row for the instance: link changes are rare).
CREATE TABLE referral_link_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
) STRICT;

-- Counted clicks (bots and repeats within the hour are not written).
CREATE TABLE clicks (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    link_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    clicked_at INTEGER NOT NULL,
    ip TEXT,
    user_agent TEXT,
    referer TEXT,
    PRIMARY KEY (workspace_id, id)
) STRICT;
CREATE INDEX clicks_by_link ON clicks (workspace_id, link_id, clicked_at);

-- Clicks per link and UTC day, for the charts: one upsert per link and day per batch.
CREATE TABLE referral_link_days (
    workspace_id TEXT NOT NULL,
    link_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    clicks INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, link_id, day)
) STRICT;

-- Per program: the attribution window and model (first touch unless last touch is chosen).
CREATE TABLE tracking_settings (
    workspace_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    attribution_window_days INTEGER NOT NULL DEFAULT 90 CHECK (attribution_window_days BETWEEN 1 AND 3650),
    last_touch INTEGER NOT NULL DEFAULT 0 CHECK (last_touch IN (0, 1)),
    -- Fraud rules (a conversion that trips one is held for review, its commissions on_hold):
    -- converted sooner than this after its click; the link had more clicks than this in the
    -- hour before the click; the customer is the partner itself; a disposable email domain.
    min_seconds_after_click INTEGER NOT NULL DEFAULT 10 CHECK (min_seconds_after_click BETWEEN 0 AND 86400),
    max_clicks_per_hour INTEGER NOT NULL DEFAULT 1000 CHECK (max_clicks_per_hour BETWEEN 1 AND 1000000),
    flag_self_referral INTEGER NOT NULL DEFAULT 1 CHECK (flag_self_referral IN (0, 1)),
    flag_disposable_email INTEGER NOT NULL DEFAULT 1 CHECK (flag_disposable_email IN (0, 1)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, program_id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
) STRICT;

-- Conversions may be attributed by a click ('click') and name the click's link: SQLite changes
-- a CHECK by copying the table.
CREATE TABLE conversions_new (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('lead', 'sale', 'refund')),
    invoice_id TEXT NOT NULL,
    customer_external_id TEXT NOT NULL,
    -- null: nothing attributed the conversion to a partner (it earns nothing).
    partner_id TEXT,
    program_id TEXT,
    plan_version INTEGER,
    attribution TEXT NOT NULL CHECK (attribution IN ('click', 'customer', 'partner', 'deal', 'none')),
    deal_id TEXT,
    click_id TEXT,
    -- A conversion attributed by a click names the click's link (per-link leads, sales, earnings).
    link_id TEXT,
    -- The fraud rules it tripped (a JSON array of {rule, detail}); '[]' for none.
    fraud_flags TEXT NOT NULL DEFAULT '[]',
    amount_minor INTEGER CHECK (amount_minor IS NULL OR amount_minor >= 0),
    currency TEXT,
    invoice_status TEXT CHECK (invoice_status IS NULL OR invoice_status IN ('open', 'paid')),
    invoice_paid_at INTEGER,
    refunds_invoice_id TEXT,
    customer_email TEXT,
    customer_ip TEXT,
    occurred_at INTEGER NOT NULL,
    -- The request as it was understood, so a retry with another body is told apart (409).
    request_digest TEXT NOT NULL,
    -- The first answer, returned again to a retry.
    answer TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;
INSERT INTO conversions_new (workspace_id, id, kind, invoice_id, customer_external_id, partner_id, program_id, plan_version, attribution, deal_id, click_id, amount_minor, currency, invoice_status, invoice_paid_at, refunds_invoice_id, customer_email, customer_ip, occurred_at, request_digest, answer, created_at)
    SELECT workspace_id, id, kind, invoice_id, customer_external_id, partner_id, program_id, plan_version, attribution, deal_id, click_id, amount_minor, currency, invoice_status, invoice_paid_at, refunds_invoice_id, customer_email, customer_ip, occurred_at, request_digest, answer, created_at FROM conversions;
DROP TABLE conversions;
ALTER TABLE conversions_new RENAME TO conversions;
CREATE UNIQUE INDEX conversions_once_per_invoice ON conversions (workspace_id, kind, invoice_id);
CREATE INDEX conversions_by_partner ON conversions (workspace_id, partner_id, id);
CREATE INDEX conversions_newest ON conversions (workspace_id, id);
CREATE INDEX conversions_by_link ON conversions (workspace_id, link_id, occurred_at) WHERE link_id IS NOT NULL;
