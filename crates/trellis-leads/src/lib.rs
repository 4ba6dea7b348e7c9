//! Lead distribution (issue 13): leads the vendor passes to partners, offered to the partner most
//! likely to win each, with the reasons shown.
//!
//! - [`matching`]: the explainable scoring model (factors, default weights, weights fitted to the
//!   workspace's outcomes) that ranks candidate partners for a lead.

pub mod matching;
