-- Deal registration and the direct pipeline (issue 9). See crates/trellis-deals.

-- The conflict rules of a program beyond its protection days (programs.default_protection_days);
-- a program without a row has the defaults.
CREATE TABLE deal_rules (
    workspace_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    race_window_minutes INTEGER NOT NULL,
    -- Similarity threshold in ten-thousandths (8800 = 0.88).
    similarity_threshold_bp INTEGER NOT NULL,
    auto_approve INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, program_id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id)
) STRICT;

-- One row per workspace: the sequence of changes the in-memory conflict index follows. Taking it
-- (`UPDATE … RETURNING`) serialises the writes that change the index, so sequence order is commit
-- order and every server catches up by reading the deals with a higher `index_seq`.
CREATE TABLE deal_index_heads (
    workspace_id TEXT NOT NULL PRIMARY KEY,
    seq INTEGER NOT NULL,
    FOREIGN KEY (workspace_id) REFERENCES workspaces (id)
) STRICT;

CREATE TABLE deals (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('partner', 'direct')),
    partner_id TEXT,
    partner_role TEXT CHECK (partner_role IN ('resell', 'referral', 'influence')),
    -- The registering partner's share of the credit, in basis points (others attached take the rest).
    partner_credit_bps INTEGER NOT NULL DEFAULT 10000,
    program_id TEXT,
    status TEXT NOT NULL,
    stage TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    customer_domain TEXT,
    customer_email TEXT,
    country TEXT,
    name_key TEXT NOT NULL,
    domain_key TEXT,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    expected_close_date TEXT,
    description TEXT NOT NULL,
    external_id TEXT,
    protected_until INTEGER,
    -- Who approved it (NULL: approved automatically, or not approved).
    approved_by_user_id TEXT,
    -- The reason of the last decision a partner reads (rejection, request for information, loss).
    decision_note TEXT,
    registered_by_user_id TEXT,
    closed_at INTEGER,
    index_seq INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id),
    CHECK ((source = 'partner') = (partner_id IS NOT NULL))
) STRICT;
CREATE INDEX deals_by_index_seq ON deals (workspace_id, index_seq);
CREATE INDEX deals_by_partner ON deals (workspace_id, partner_id, id);
CREATE INDEX deals_by_status ON deals (workspace_id, status, created_at, id);
CREATE UNIQUE INDEX deals_by_external_id ON deals (workspace_id, external_id) WHERE external_id IS NOT NULL;

-- Further partners credited on a deal (influence or referral), with their share.
CREATE TABLE deal_partners (
    workspace_id TEXT NOT NULL,
    deal_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('influence', 'referral')),
    credit_bps INTEGER NOT NULL CHECK (credit_bps BETWEEN 1 AND 10000),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, deal_id, partner_id),
    FOREIGN KEY (workspace_id, deal_id) REFERENCES deals (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;
CREATE INDEX deal_partners_by_partner ON deal_partners (workspace_id, partner_id, deal_id);

-- The deals each partner lists: its own and its descendants' registrations (one row per ancestor
-- of the registering partner) and the deals it is credited on. A partner's pipeline walks its own
-- rows, so its cost does not grow with the subtree or the table. Kept by the triggers below.
CREATE TABLE deal_ancestry (
    workspace_id TEXT NOT NULL,
    ancestor_id TEXT NOT NULL,
    deal_id TEXT NOT NULL,
    PRIMARY KEY (workspace_id, ancestor_id, deal_id),
    FOREIGN KEY (workspace_id, deal_id) REFERENCES deals (workspace_id, id)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER deals_ancestry_on_insert AFTER INSERT ON deals
WHEN NEW.partner_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO deal_ancestry (workspace_id, ancestor_id, deal_id)
    SELECT NEW.workspace_id, pa.ancestor_id, NEW.id FROM partner_ancestry pa
     WHERE pa.workspace_id = NEW.workspace_id AND pa.descendant_id = NEW.partner_id;
END;

CREATE TRIGGER deal_partners_ancestry_on_insert AFTER INSERT ON deal_partners
BEGIN
    INSERT OR IGNORE INTO deal_ancestry (workspace_id, ancestor_id, deal_id) VALUES (NEW.workspace_id, NEW.partner_id, NEW.deal_id);
END;

CREATE TRIGGER partner_ancestry_deals_on_insert AFTER INSERT ON partner_ancestry
BEGIN
    INSERT OR IGNORE INTO deal_ancestry (workspace_id, ancestor_id, deal_id)
    SELECT NEW.workspace_id, NEW.ancestor_id, d.id FROM deals d
     WHERE d.workspace_id = NEW.workspace_id AND d.partner_id = NEW.descendant_id;
END;

CREATE TRIGGER partner_ancestry_deals_on_delete AFTER DELETE ON partner_ancestry
BEGIN
    DELETE FROM deal_ancestry
     WHERE workspace_id = OLD.workspace_id AND ancestor_id = OLD.ancestor_id
       AND deal_id IN (SELECT d.id FROM deals d WHERE d.workspace_id = OLD.workspace_id AND d.partner_id = OLD.descendant_id)
       AND NOT EXISTS (SELECT 1 FROM deal_partners dp
                        WHERE dp.workspace_id = OLD.workspace_id AND dp.deal_id = deal_ancestry.deal_id AND dp.partner_id = OLD.ancestor_id);
END;

-- What the conflict check found for a deal: the other deal, the kind of match, whether the other
-- came first. `partner_id` is the deal's own partner (row security); the other deal's partner is
-- never shown to it.
CREATE TABLE deal_conflicts (
    workspace_id TEXT NOT NULL,
    deal_id TEXT NOT NULL,
    other_deal_id TEXT NOT NULL,
    partner_id TEXT,
    kind TEXT NOT NULL,
    score_bp INTEGER NOT NULL,
    earlier INTEGER NOT NULL,
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, deal_id, other_deal_id),
    FOREIGN KEY (workspace_id, deal_id) REFERENCES deals (workspace_id, id),
    FOREIGN KEY (workspace_id, other_deal_id) REFERENCES deals (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;

-- A dispute of a decision. General: `subject_type` names what is disputed (a deal today, a
-- commission later).
CREATE TABLE disputes (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'upheld', 'overturned')),
    reason TEXT NOT NULL,
    resolution_note TEXT,
    opened_by_user_id TEXT,
    resolved_by_user_id TEXT,
    created_at INTEGER NOT NULL,
    resolved_at INTEGER,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;
CREATE INDEX disputes_by_subject ON disputes (workspace_id, subject_type, subject_id, id);
CREATE INDEX disputes_by_status ON disputes (workspace_id, status, created_at, id);

CREATE TABLE deal_extension_requests (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    deal_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    days INTEGER NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'approved', 'denied')),
    note TEXT,
    requested_by_user_id TEXT,
    decided_by_user_id TEXT,
    created_at INTEGER NOT NULL,
    decided_at INTEGER,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, deal_id) REFERENCES deals (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
) STRICT;
CREATE INDEX deal_extension_requests_by_deal ON deal_extension_requests (workspace_id, deal_id, id);
CREATE INDEX deal_extension_requests_by_status ON deal_extension_requests (workspace_id, status, created_at, id);
