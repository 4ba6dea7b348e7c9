-- Deal registration and the direct pipeline (issue 9). See crates/trellis-deals.

-- The conflict rules of a program beyond its protection days (programs.default_protection_days);
-- a program without a row has the defaults.
CREATE TABLE deal_rules (
    workspace_id TEXT COLLATE "C" NOT NULL,
    program_id TEXT COLLATE "C" NOT NULL,
    race_window_minutes BIGINT NOT NULL,
    -- Similarity threshold in ten-thousandths (8800 = 0.88).
    similarity_threshold_bp BIGINT NOT NULL,
    auto_approve BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, program_id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
);

-- One row per workspace: the sequence of changes the in-memory conflict index follows. Taking it
-- (`UPDATE … RETURNING`) serialises the writes that change the index, so sequence order is commit
-- order and every server catches up by reading the deals with a higher `index_seq`.
CREATE TABLE deal_index_heads (
    workspace_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    seq BIGINT NOT NULL,
    FOREIGN KEY (workspace_id) REFERENCES workspaces (id)
);

CREATE TABLE deals (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('partner', 'direct')),
    partner_id TEXT COLLATE "C",
    partner_role TEXT CHECK (partner_role IN ('resell', 'referral', 'influence')),
    -- The registering partner's share of the credit, in basis points (others attached take the rest).
    partner_credit_bps BIGINT NOT NULL DEFAULT 10000,
    program_id TEXT COLLATE "C",
    status TEXT NOT NULL,
    stage TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    customer_domain TEXT,
    customer_email TEXT,
    country TEXT,
    name_key TEXT NOT NULL,
    domain_key TEXT,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    expected_close_date TEXT,
    description TEXT NOT NULL,
    external_id TEXT COLLATE "C",
    protected_until BIGINT,
    -- Who approved it (NULL: approved automatically, or not approved).
    approved_by_user_id TEXT,
    -- The reason of the last decision a partner reads (rejection, request for information, loss).
    decision_note TEXT,
    registered_by_user_id TEXT,
    closed_at BIGINT,
    index_seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id),
    CHECK ((source = 'partner') = (partner_id IS NOT NULL))
);
CREATE INDEX deals_by_index_seq ON deals (workspace_id, index_seq);
CREATE INDEX deals_by_partner ON deals (workspace_id, partner_id, id);
CREATE INDEX deals_by_status ON deals (workspace_id, status, created_at, id);
CREATE UNIQUE INDEX deals_by_external_id ON deals (workspace_id, external_id) WHERE external_id IS NOT NULL;

-- Further partners credited on a deal (influence or referral), with their share.
CREATE TABLE deal_partners (
    workspace_id TEXT COLLATE "C" NOT NULL,
    deal_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('influence', 'referral')),
    credit_bps BIGINT NOT NULL CHECK (credit_bps BETWEEN 1 AND 10000),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, deal_id, partner_id),
    FOREIGN KEY (workspace_id, deal_id) REFERENCES deals (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX deal_partners_by_partner ON deal_partners (workspace_id, partner_id, deal_id);

-- The deals each partner lists: its own and its descendants' registrations (one row per ancestor
-- of the registering partner) and the deals it is credited on. A partner's pipeline walks its own
-- rows, so its cost does not grow with the subtree or the table. Kept by the triggers below.
CREATE TABLE deal_ancestry (
    workspace_id TEXT COLLATE "C" NOT NULL,
    ancestor_id TEXT COLLATE "C" NOT NULL,
    deal_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (workspace_id, ancestor_id, deal_id),
    FOREIGN KEY (workspace_id, deal_id) REFERENCES deals (workspace_id, id)
);

CREATE FUNCTION deals_ancestry_on_insert() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO deal_ancestry (workspace_id, ancestor_id, deal_id)
    SELECT NEW.workspace_id, pa.ancestor_id, NEW.id FROM partner_ancestry pa
     WHERE pa.workspace_id = NEW.workspace_id AND pa.descendant_id = NEW.partner_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
CREATE TRIGGER deals_ancestry_on_insert AFTER INSERT ON deals
    FOR EACH ROW WHEN (NEW.partner_id IS NOT NULL) EXECUTE FUNCTION deals_ancestry_on_insert();

CREATE FUNCTION deal_partners_ancestry_on_insert() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO deal_ancestry (workspace_id, ancestor_id, deal_id) VALUES (NEW.workspace_id, NEW.partner_id, NEW.deal_id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
CREATE TRIGGER deal_partners_ancestry_on_insert AFTER INSERT ON deal_partners
    FOR EACH ROW EXECUTE FUNCTION deal_partners_ancestry_on_insert();

CREATE FUNCTION partner_ancestry_deals_on_insert() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO deal_ancestry (workspace_id, ancestor_id, deal_id)
    SELECT NEW.workspace_id, NEW.ancestor_id, d.id FROM deals d
     WHERE d.workspace_id = NEW.workspace_id AND d.partner_id = NEW.descendant_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;
CREATE TRIGGER partner_ancestry_deals_on_insert AFTER INSERT ON partner_ancestry
    FOR EACH ROW EXECUTE FUNCTION partner_ancestry_deals_on_insert();

CREATE FUNCTION partner_ancestry_deals_on_delete() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM deal_ancestry
     WHERE workspace_id = OLD.workspace_id AND ancestor_id = OLD.ancestor_id
       AND deal_id IN (SELECT d.id FROM deals d WHERE d.workspace_id = OLD.workspace_id AND d.partner_id = OLD.descendant_id)
       AND NOT EXISTS (SELECT 1 FROM deal_partners dp
                        WHERE dp.workspace_id = OLD.workspace_id AND dp.deal_id = deal_ancestry.deal_id AND dp.partner_id = OLD.ancestor_id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER partner_ancestry_deals_on_delete AFTER DELETE ON partner_ancestry
    FOR EACH ROW EXECUTE FUNCTION partner_ancestry_deals_on_delete();

-- What the conflict check found for a deal: the other deal, the kind of match, whether the other
-- came first. `partner_id` is the deal's own partner (row security); the other deal's partner is
-- never shown to it.
CREATE TABLE deal_conflicts (
    workspace_id TEXT COLLATE "C" NOT NULL,
    deal_id TEXT COLLATE "C" NOT NULL,
    other_deal_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C",
    kind TEXT NOT NULL,
    score_bp BIGINT NOT NULL,
    earlier BOOLEAN NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, deal_id, other_deal_id),
    FOREIGN KEY (workspace_id, deal_id) REFERENCES deals (workspace_id, id),
    FOREIGN KEY (workspace_id, other_deal_id) REFERENCES deals (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);

-- A dispute of a decision. General: `subject_type` names what is disputed (a deal today, a
-- commission later).
CREATE TABLE disputes (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'upheld', 'overturned')),
    reason TEXT NOT NULL,
    resolution_note TEXT,
    opened_by_user_id TEXT,
    resolved_by_user_id TEXT,
    created_at BIGINT NOT NULL,
    resolved_at BIGINT,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX disputes_by_subject ON disputes (workspace_id, subject_type, subject_id, id);
CREATE INDEX disputes_by_status ON disputes (workspace_id, status, created_at, id);

CREATE TABLE deal_extension_requests (
    workspace_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    deal_id TEXT COLLATE "C" NOT NULL,
    partner_id TEXT COLLATE "C" NOT NULL,
    days BIGINT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'approved', 'denied')),
    note TEXT,
    requested_by_user_id TEXT,
    decided_by_user_id TEXT,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, deal_id) REFERENCES deals (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX deal_extension_requests_by_deal ON deal_extension_requests (workspace_id, deal_id, id);
CREATE INDEX deal_extension_requests_by_status ON deal_extension_requests (workspace_id, status, created_at, id);

-- Row security (docs/ARCHITECTURE.md "The second wall"). A deal is visible to the partners that
-- list it (deal_ancestry) and to a restricted manager through its partner; direct opportunities
-- (no partner) to staff only.
ALTER TABLE deals ENABLE ROW LEVEL SECURITY;
ALTER TABLE deals FORCE ROW LEVEL SECURITY;
CREATE POLICY deals_visible ON deals USING (current_user <> 'trellis_app'
    OR (deals.partner_id IS NULL AND current_setting('trellis.acting_manager_id', true) <> '')
    OR EXISTS (SELECT 1 FROM deal_ancestry da
                WHERE da.workspace_id = deals.workspace_id AND da.ancestor_id = current_setting('trellis.acting_partner_id', true)
                  AND da.deal_id = deals.id OFFSET 0)
    OR EXISTS (SELECT 1 FROM partner_ancestry pa
                WHERE pa.workspace_id = deals.workspace_id AND pa.descendant_id = deals.partner_id
                  AND pa.ancestor_manager_user_id = current_setting('trellis.acting_manager_id', true) OFFSET 0));

ALTER TABLE deal_ancestry ENABLE ROW LEVEL SECURITY;
ALTER TABLE deal_ancestry FORCE ROW LEVEL SECURITY;
CREATE POLICY deal_ancestry_visible ON deal_ancestry USING (current_user <> 'trellis_app'
    OR current_setting('trellis.acting_manager_id', true) <> ''
    OR EXISTS (SELECT 1 FROM partner_ancestry pa
                WHERE pa.workspace_id = deal_ancestry.workspace_id AND pa.descendant_id = deal_ancestry.ancestor_id
                  AND pa.ancestor_id = current_setting('trellis.acting_partner_id', true) OFFSET 0));

DO $$
DECLARE
    owned RECORD;
BEGIN
    FOR owned IN SELECT * FROM (VALUES
        ('deal_partners', 'partner_id'), ('deal_conflicts', 'partner_id'), ('disputes', 'partner_id'),
        ('deal_extension_requests', 'partner_id')
    ) AS t (table_name, partner_column)
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', owned.table_name);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', owned.table_name);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING (current_user <> ''trellis_app''
               OR (%I.%I IS NULL AND current_setting(''trellis.acting_manager_id'', true) <> '''')
               OR EXISTS (
                 SELECT 1 FROM partner_ancestry pa
                  WHERE pa.workspace_id = %I.workspace_id AND pa.descendant_id = %I.%I
                    AND (pa.ancestor_id = current_setting(''trellis.acting_partner_id'', true)
                         OR pa.ancestor_manager_user_id = current_setting(''trellis.acting_manager_id'', true))
                  OFFSET 0))',
            owned.table_name || '_visible', owned.table_name, owned.table_name, owned.partner_column,
            owned.table_name, owned.table_name, owned.partner_column);
    END LOOP;
END;
$$;
