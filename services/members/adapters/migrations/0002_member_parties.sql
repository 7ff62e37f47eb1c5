-- A member's PEPPOL participant id and VAT id (issue #18): its delivery party in the orders XML
-- suppliers get; announced to procurement with the rest of its profile.
ALTER TABLE members
    ADD COLUMN peppol_id text,
    ADD COLUMN vat_id    text;
