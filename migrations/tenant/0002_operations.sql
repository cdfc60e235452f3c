-- The example tenant template, file 2: sales, stock and demand forecasts,
-- all referring to file 1's companies and products.

CREATE TABLE sales (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id  bigint NOT NULL REFERENCES companies (id),
    product_id  bigint NOT NULL REFERENCES products (id),
    quantity    integer NOT NULL CHECK (quantity > 0),
    unit_price  numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
    sold_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ix_sales_company_sold_at ON sales (company_id, sold_at);
CREATE INDEX ix_sales_product_sold_at ON sales (product_id, sold_at);

CREATE TABLE inventory (
    product_id  bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    location    text NOT NULL,
    on_hand     integer NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved    integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    update_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_id, location)
);

CREATE TABLE forecasts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    period      date NOT NULL,
    quantity    integer NOT NULL CHECK (quantity >= 0),
    model       text NOT NULL DEFAULT 'manual',
    create_time timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ux_forecasts_product_period_model UNIQUE (product_id, period, model)
);
