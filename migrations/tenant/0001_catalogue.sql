-- The example tenant template, file 1: the companies a tenant deals with
-- and the products it sells. Applied inside the tenant's own schema (the
-- search path is that schema alone) as the tenant's role, in one
-- transaction; unqualified names land in the tenant's schema.

CREATE TABLE companies (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    kind        text NOT NULL DEFAULT 'customer'
                CHECK (kind IN ('customer', 'supplier', 'partner')),
    country     text,
    create_time timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ux_companies_name UNIQUE (name)
);

CREATE TABLE products (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku         text NOT NULL,
    name        text NOT NULL,
    supplier_id bigint REFERENCES companies (id) ON DELETE SET NULL,
    unit_price  numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
    create_time timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ux_products_sku UNIQUE (sku)
);

CREATE INDEX ix_products_supplier ON products (supplier_id);
