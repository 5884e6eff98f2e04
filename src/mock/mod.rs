//! Mock Storefront (placeholder).
