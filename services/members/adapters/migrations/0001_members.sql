CREATE TABLE members (
    member_id                   text PRIMARY KEY,
    name                        text        NOT NULL,
    status                      text        NOT NULL CHECK (status IN ('active', 'suspended')),
    region                      text        NOT NULL,
    erp_secret                  text        NOT NULL,
    previous_erp_secret         text,
    previous_secret_valid_until timestamptz,
    email                       text,
    locale                      text        NOT NULL DEFAULT 'de',
    webhook_url                 text,
    webhook_secret              text,
    interest_categories         text[]      NOT NULL DEFAULT '{}',
    min_risk_severity           text        NOT NULL DEFAULT 'medium',
    updated_at                  timestamptz NOT NULL DEFAULT now()
);

-- The catalog's SKUs, so an unknown SKU is refused at the door.
CREATE TABLE catalog_skus (
    sku      text PRIMARY KEY,
    category text NOT NULL
);

-- Every admitted request id per member, with its content's fingerprint.
CREATE TABLE admitted_requests (
    member_id   text        NOT NULL,
    request_id  text        NOT NULL,
    sku         text        NOT NULL,
    fingerprint bytea       NOT NULL,
    admitted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, request_id)
);
