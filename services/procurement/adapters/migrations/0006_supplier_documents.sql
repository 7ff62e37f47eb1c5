-- Suppliers in their own standards (issue #18, docs/suppliers.md): what a supplier's orders and
-- answers are written in, and the ids its documents carry; the members' names, regions and ids
-- as delivery parties (from alliance.members.events); the alliance itself, the buyer of every
-- joint order (from the seed's `alliance` entry). Independent of 0005 (the runner applies any
-- migration not applied yet, in name order).
ALTER TABLE suppliers
    ADD COLUMN documents text NOT NULL DEFAULT 'cloudevents'
        CHECK (documents IN ('cloudevents', 'peppol-bis3', 'opentrans-2.1')),
    ADD COLUMN peppol_id text,
    ADD COLUMN vat_id    text;

ALTER TABLE known_members
    ADD COLUMN name      text,
    ADD COLUMN region    text,
    ADD COLUMN peppol_id text,
    ADD COLUMN vat_id    text;

-- At most one row: the seed's `alliance` entry as last loaded.
CREATE TABLE alliance_party (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    name        text    NOT NULL,
    peppol_id   text    NOT NULL,
    vat_id      text    NOT NULL,
    street      text    NOT NULL,
    city        text    NOT NULL,
    postal_code text    NOT NULL,
    country     text    NOT NULL
);
