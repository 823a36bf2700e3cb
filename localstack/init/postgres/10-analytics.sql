-- Run by the postgres image on first start (empty data directory only).
-- flashsale_analytics stands in for Redshift (flash_sale_metrics lives there).
CREATE DATABASE flashsale_analytics OWNER flashsale;
