-- Referral links, clicks and their daily counts (issue 11, crates/trellis-tracking). Clicks are
-- written by the click writer in batches; the daily counts move once per batch, and a link's
-- total is the sum of its days: no counter row is updated per click.

-- The instance's click signing key (click ids are signed, trellis_tracking::click_ids): one row,
-- created by the first server that needs it and shared by every server of the database.
CREATE TABLE click_keys (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE referral_links (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    -- The program its conversions earn in; null: the partner's only program with a plan.
    program_id TEXT COLLATE "C",
    -- /r/{code}: unique across the instance (one redirect route serves every workspace).
    code TEXT COLLATE "C" NOT NULL,
    vanity BOOLEAN NOT NULL DEFAULT FALSE,
    -- The destination as parsed and checked against the workspace's allowed domains.
    destination_url TEXT NOT NULL,
    -- UTM parameters added to the destination (JSON object; the destination's own win).
    utm TEXT NOT NULL DEFAULT '{}',
    name TEXT NOT NULL DEFAULT '',
    disabled_at BIGINT,
    -- The change feed of the servers' in-memory link tables: a change takes the next number.
    change_seq BIGINT NOT NULL,
    created_by_user_id TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE UNIQUE INDEX referral_links_by_code ON referral_links (code);
CREATE INDEX referral_links_by_partner ON referral_links (workspace_id, partner_id, id);
CREATE INDEX referral_links_by_change ON referral_links (change_seq);

-- The last number of the link change feed (one row for the instance: link changes are rare).
CREATE TABLE referral_link_changes (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);

-- Counted clicks (bots and repeats within the hour are not written).
CREATE TABLE clicks (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    link_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    clicked_at BIGINT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    referer TEXT,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX clicks_by_link ON clicks (workspace_id, link_id, clicked_at);

-- Clicks per link and UTC day, for the charts: one upsert per link and day per batch.
CREATE TABLE referral_link_days (
    workspace_id TEXT COLLATE "C" NOT NULL,
    link_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    day BIGINT NOT NULL,
    clicks BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, link_id, day)
);

-- Per program: the attribution window and model (first touch unless last touch is chosen).
CREATE TABLE tracking_settings (
    workspace_id TEXT COLLATE "C" NOT NULL,
    program_id TEXT COLLATE "C" NOT NULL,
    attribution_window_days INTEGER NOT NULL DEFAULT 90 CHECK (attribution_window_days BETWEEN 1 AND 3650),
    last_touch BOOLEAN NOT NULL DEFAULT FALSE,
    -- Fraud rules (a conversion that trips one is held for review, its commissions on_hold):
    -- converted sooner than this after its click; the link had more clicks than this in the
    -- hour before the click; the customer is the partner itself; a disposable email domain.
    min_seconds_after_click INTEGER NOT NULL DEFAULT 10 CHECK (min_seconds_after_click BETWEEN 0 AND 86400),
    max_clicks_per_hour INTEGER NOT NULL DEFAULT 1000 CHECK (max_clicks_per_hour BETWEEN 1 AND 1000000),
    flag_self_referral BOOLEAN NOT NULL DEFAULT TRUE,
    flag_disposable_email BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, program_id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
);

-- Row security (docs/ARCHITECTURE.md "The second wall"): a link, its clicks and its counts
-- carry earnings, so they are private to their organisation like money — a partner sees its own,
-- never a descendant's; a restricted manager those of the partners they manage. The redirect's
-- table and the click writer work under named system grants (ARCHITECTURE.md "System context").
DO $$
DECLARE
    owned TEXT;
BEGIN
    FOREACH owned IN ARRAY ARRAY['referral_links', 'clicks', 'referral_link_days']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', owned);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', owned);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING (current_user <> ''trellis_app''
               OR %I.partner_id = current_setting(''trellis.acting_partner_id'', true)
               OR EXISTS (
                 SELECT 1 FROM partner_ancestry pa
                  WHERE pa.workspace_id = %I.workspace_id AND pa.descendant_id = %I.partner_id
                    AND pa.ancestor_manager_user_id = current_setting(''trellis.acting_manager_id'', true)
                  OFFSET 0))',
            owned || '_visible', owned, owned, owned, owned);
    END LOOP;
END;
$$;

-- Conversions may be attributed by a click ('click') and name the click's link.
ALTER TABLE conversions DROP CONSTRAINT conversions_attribution_check;
ALTER TABLE conversions ADD CONSTRAINT conversions_attribution_check CHECK (attribution IN ('click', 'customer', 'partner', 'deal', 'none'));
ALTER TABLE conversions ADD COLUMN link_id TEXT COLLATE "C";
-- The fraud rules it tripped (a JSON array of {rule, detail}); '[]' for none.
ALTER TABLE conversions ADD COLUMN fraud_flags TEXT NOT NULL DEFAULT '[]';
CREATE INDEX conversions_by_link ON conversions (workspace_id, link_id, occurred_at) WHERE link_id IS NOT NULL;
