//! Explainable partner matching for leads (issue 13): which partner is most likely to win a lead,
//! and why, in terms a channel manager can check.
//!
//! Every candidate gets one value between 0 and 1 per [`Factor`] (does it serve the lead's country
//! and region, does it sell the product, its tier, its win rate on similar deals, …), computed by
//! [`features`] from facts the caller reads. The score is `Σ weight × value`; each term is a
//! reason shown with the match. Two sets of weights:
//!
//! - [`Weights::default`]: a transparent model that needs no history — the points of the factors
//!   add up to 100, territory and product first (a partner that does not serve the country rarely
//!   wins there);
//! - [`fit`]: a logistic regression of the workspace's own outcomes (won / not won, with the values
//!   at the time of the offer), refit by a scheduled job once there are enough; its weights are
//!   log-odds per unit of a factor, so the score maps to a win probability ([`Match::probability`]).
//!
//! Partners at their capacity are not candidates ([`rank`]); the others are ranked by score, ties
//! by fewer open leads, then by id (deterministic).

/// What a match is scored on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Factor {
    /// Serves the lead's country (and region): 1 both, 0.4 the country only, 0 neither.
    Territory,
    /// Sells (is specialised in) the product the lead is interested in; 0.5 when the lead names none.
    Product,
    /// The partner's tier, the top tier 1.
    Tier,
    /// Certifications held (three or more count fully); 0 until enablement records them.
    Certification,
    /// Deals won of those closed on similar deals (same country and product), smoothed towards the
    /// partner's overall rate and, without history, towards one half.
    WinRate,
    /// How fast its deals close: `1 / (1 + median days / 30)`; one half without history.
    Speed,
    /// Offers accepted of those answered or let expire (smoothed).
    Acceptance,
    /// How fast it answers offers: `1 / (1 + median hours / 24)`; one half without history.
    Responsiveness,
    /// Room for another lead: `1 − open leads / limit`.
    Capacity,
}

/// How many factors there are.
pub const FACTORS: usize = 9;

impl Factor {
    pub const ALL: [Factor; FACTORS] = [
        Factor::Territory,
        Factor::Product,
        Factor::Tier,
        Factor::Certification,
        Factor::WinRate,
        Factor::Speed,
        Factor::Acceptance,
        Factor::Responsiveness,
        Factor::Capacity,
    ];

    /// How people read it (the console, the offer email).
    pub fn label(self) -> &'static str {
        match self {
            Factor::Territory => "Territory",
            Factor::Product => "Product",
            Factor::Tier => "Tier",
            Factor::Certification => "Certifications",
            Factor::WinRate => "Win rate",
            Factor::Speed => "Closing speed",
            Factor::Acceptance => "Acceptance",
            Factor::Responsiveness => "Responsiveness",
            Factor::Capacity => "Capacity",
        }
    }

    /// The name in the API (`reasons[].factor`) and in program settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Territory => "territory",
            Factor::Product => "product",
            Factor::Tier => "tier",
            Factor::Certification => "certification",
            Factor::WinRate => "win_rate",
            Factor::Speed => "speed",
            Factor::Acceptance => "acceptance",
            Factor::Responsiveness => "responsiveness",
            Factor::Capacity => "capacity",
        }
    }

    fn index(self) -> usize {
        Factor::ALL.iter().position(|f| *f == self).unwrap_or_default()
    }
}

/// The weight of each factor, and the intercept of a fitted model.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    values: [f64; FACTORS],
    /// `Some(intercept)` for weights fitted to outcomes: the score is then the log-odds of a win
    /// less the intercept. `None` for the transparent default (points out of 100).
    intercept: Option<f64>,
}

impl Default for Weights {
    /// Points out of 100: territory 30, product 20, win rate 15, tier 8, acceptance 8, speed 5,
    /// responsiveness 5, capacity 5, certification 4.
    fn default() -> Self {
        let mut values = [0.0; FACTORS];
        for (factor, points) in [
            (Factor::Territory, 30.0),
            (Factor::Product, 20.0),
            (Factor::Tier, 8.0),
            (Factor::Certification, 4.0),
            (Factor::WinRate, 15.0),
            (Factor::Speed, 5.0),
            (Factor::Acceptance, 8.0),
            (Factor::Responsiveness, 5.0),
            (Factor::Capacity, 5.0),
        ] {
            values[factor.index()] = points;
        }
        Weights { values, intercept: None }
    }
}

impl Weights {
    /// Weights chosen by hand (a program's settings), points per factor.
    pub fn manual(points: impl IntoIterator<Item = (Factor, f64)>) -> Self {
        let mut weights = Weights { values: [0.0; FACTORS], intercept: None };
        for (factor, value) in points {
            weights.values[factor.index()] = value;
        }
        weights
    }

    pub fn of(&self, factor: Factor) -> f64 {
        self.values[factor.index()]
    }

    /// Whether these weights were fitted to outcomes (the score then says a probability).
    pub fn is_fitted(&self) -> bool {
        self.intercept.is_some()
    }

    /// The intercept of fitted weights.
    pub fn intercept(&self) -> Option<f64> {
        self.intercept
    }

    /// Fitted weights from their intercept and log-odds per factor (as stored with a program).
    pub fn fitted(intercept: f64, values: impl IntoIterator<Item = (Factor, f64)>) -> Self {
        let mut weights = Weights::manual(values);
        weights.intercept = Some(intercept);
        weights
    }
}

/// A track record: how many closed, and how many of those were won.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Record {
    pub won: u32,
    pub lost: u32,
}

impl Record {
    fn closed(self) -> u32 {
        self.won + self.lost
    }
}

/// Offers a partner answered: accepted, and declined, returned or let expire.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OfferRecord {
    pub accepted: u32,
    pub refused: u32,
}

/// The lead, as matching sees it.
#[derive(Debug, Clone, Copy)]
pub struct LeadFacts<'a> {
    /// ISO 3166-1 alpha-2.
    pub country: &'a str,
    pub region: Option<&'a str>,
    pub product: Option<&'a str>,
}

/// A candidate partner, as matching sees it (the caller reads profile, tier, deal and offer
/// history; names are compared case-insensitively).
#[derive(Debug, Clone, Copy)]
pub struct PartnerFacts<'a> {
    /// The countries it serves (its own and its profile's).
    pub countries: &'a [String],
    /// The regions and territories of its profile.
    pub regions: &'a [String],
    /// Its specialisations and products.
    pub products: &'a [String],
    /// Its tier as a share of the top: the top tier 1, no tier 0.
    pub tier_level: f64,
    pub certifications: u32,
    /// Deals closed like this lead (same country and product), and all deals closed.
    pub similar: Record,
    pub overall: Record,
    pub median_days_to_close: Option<f64>,
    pub offers: OfferRecord,
    pub median_response_hours: Option<f64>,
    pub open_leads: u32,
    /// Open leads it can take (its own limit, or the program's).
    pub capacity: u32,
}

/// The value of every factor for a lead and a candidate, each between 0 and 1.
pub fn features(lead: &LeadFacts<'_>, partner: &PartnerFacts<'_>) -> [f64; FACTORS] {
    let has = |list: &[String], wanted: &str| list.iter().any(|item| item.eq_ignore_ascii_case(wanted));
    let mut x = [0.0; FACTORS];
    x[Factor::Territory.index()] = match (has(partner.countries, lead.country), lead.region) {
        (false, _) => 0.0,
        (true, None) => 1.0,
        (true, Some(region)) if has(partner.regions, region) => 1.0,
        (true, Some(_)) => 0.4,
    };
    x[Factor::Product.index()] = match lead.product {
        None => 0.5,
        Some(product) if has(partner.products, product) => 1.0,
        Some(_) => 0.0,
    };
    x[Factor::Tier.index()] = partner.tier_level.clamp(0.0, 1.0);
    x[Factor::Certification.index()] = (f64::from(partner.certifications) / 3.0).min(1.0);
    // Smoothed twice: the partner's overall rate pulls a thin similar record, one half pulls a thin
    // overall one (two pseudo-deals each).
    let overall = (f64::from(partner.overall.won) + 1.0) / (f64::from(partner.overall.closed()) + 2.0);
    x[Factor::WinRate.index()] = (f64::from(partner.similar.won) + 2.0 * overall) / (f64::from(partner.similar.closed()) + 2.0);
    x[Factor::Speed.index()] = partner.median_days_to_close.map_or(0.5, |days| 1.0 / (1.0 + days.max(0.0) / 30.0));
    let answered = partner.offers.accepted + partner.offers.refused;
    x[Factor::Acceptance.index()] = (f64::from(partner.offers.accepted) + 1.0) / (f64::from(answered) + 2.0);
    x[Factor::Responsiveness.index()] = partner.median_response_hours.map_or(0.5, |hours| 1.0 / (1.0 + hours.max(0.0) / 24.0));
    x[Factor::Capacity.index()] =
        if partner.capacity == 0 { 0.0 } else { (1.0 - f64::from(partner.open_leads) / f64::from(partner.capacity)).clamp(0.0, 1.0) };
    x
}

/// One factor's part in a match: its value for this candidate, its weight, and their product.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reason {
    pub factor: Factor,
    pub value: f64,
    pub weight: f64,
}

impl Reason {
    pub fn contribution(&self) -> f64 {
        self.value * self.weight
    }
}

/// A scored candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Match<Id> {
    pub partner: Id,
    /// `Σ weight × value`: points out of 100 with the default weights.
    pub score: f64,
    /// The estimated chance to win, with fitted weights.
    pub probability: Option<f64>,
    /// Every factor, the largest contribution first.
    pub reasons: Vec<Reason>,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Scores one candidate.
pub fn score<Id>(weights: &Weights, partner: Id, x: &[f64; FACTORS]) -> Match<Id> {
    let mut reasons: Vec<Reason> =
        Factor::ALL.iter().map(|factor| Reason { factor: *factor, value: x[factor.index()], weight: weights.of(*factor) }).collect();
    let score = reasons.iter().map(Reason::contribution).sum::<f64>();
    reasons.sort_by(|a, b| b.contribution().total_cmp(&a.contribution()));
    Match { partner, score, probability: weights.intercept.map(|b| sigmoid(b + score)), reasons }
}

/// Ranks the candidates that have room for another lead, best first: by score, then fewer open
/// leads, then id.
pub fn rank<Id: Ord + Clone>(weights: &Weights, lead: &LeadFacts<'_>, candidates: &[(Id, PartnerFacts<'_>)]) -> Vec<Match<Id>> {
    let mut matches: Vec<(u32, Match<Id>)> = candidates
        .iter()
        .filter(|(_, facts)| facts.open_leads < facts.capacity)
        .map(|(id, facts)| (facts.open_leads, score(weights, id.clone(), &features(lead, facts))))
        .collect();
    matches
        .sort_by(|(open_a, a), (open_b, b)| b.score.total_cmp(&a.score).then(open_a.cmp(open_b)).then_with(|| a.partner.cmp(&b.partner)));
    matches.into_iter().map(|(_, m)| m).collect()
}

/// Outcomes needed before weights are fitted: this many closed offers, with at least
/// [`MIN_OF_EACH`] won and as many not won.
pub const MIN_OUTCOMES: usize = 200;
pub const MIN_OF_EACH: usize = 30;

/// Log-odds per point of hand-set weights, when they are the prior of a fit: the default's 30
/// points of territory are 1.5 (a partner serving the territory wins about 4.5 times the odds).
pub const PRIOR_LOG_ODDS_PER_POINT: f64 = 0.05;

/// Fits the weights to outcomes — the factor values at the time of each offer and whether the lead
/// was won through it (an offer declined or let expire is not won) — by logistic regression
/// (Newton's method) whose weights are drawn towards `prior` (hand-set points, scaled by
/// [`PRIOR_LOG_ODDS_PER_POINT`]): outcomes of offers the matching made itself hardly vary in the
/// factors it already trusts (nearly every offer serves the territory), so those keep the prior's
/// weight unless the outcomes say otherwise. `None` with too few outcomes, or when they do not
/// determine a model.
pub fn fit(outcomes: &[([f64; FACTORS], bool)], prior: &Weights) -> Option<Weights> {
    let wins = outcomes.iter().filter(|(_, won)| *won).count();
    if outcomes.len() < MIN_OUTCOMES || wins < MIN_OF_EACH || outcomes.len() - wins < MIN_OF_EACH {
        return None;
    }
    // Parameter 0 is the intercept; a ridge around the prior keeps rare or constant factors there.
    const N: usize = FACTORS + 1;
    const RIDGE: f64 = 5.0;
    let mut mean = [0.0; N];
    for (i, factor) in Factor::ALL.iter().enumerate() {
        mean[i + 1] = if prior.is_fitted() { prior.of(*factor) } else { prior.of(*factor) * PRIOR_LOG_ODDS_PER_POINT };
    }
    let mut beta = mean;
    // The intercept starts where the prior meets the observed rate of wins at the average offer.
    let rate = wins as f64 / outcomes.len() as f64;
    let average: f64 =
        outcomes.iter().map(|(x, _)| x.iter().zip(&mean[1..]).map(|(a, b)| a * b).sum::<f64>()).sum::<f64>() / outcomes.len() as f64;
    beta[0] = (rate / (1.0 - rate)).ln() - average;
    for _ in 0..50 {
        let mut gradient = [0.0; N];
        let mut hessian = [[0.0; N]; N];
        for (x, won) in outcomes {
            let mut row = [1.0; N];
            row[1..].copy_from_slice(x);
            let p = sigmoid(row.iter().zip(&beta).map(|(a, b)| a * b).sum());
            let residual = if *won { 1.0 } else { 0.0 } - p;
            let w = p * (1.0 - p);
            for i in 0..N {
                gradient[i] += residual * row[i];
                for j in 0..N {
                    hessian[i][j] += w * row[i] * row[j];
                }
            }
        }
        for i in 1..N {
            gradient[i] -= RIDGE * (beta[i] - mean[i]);
            hessian[i][i] += RIDGE;
        }
        let mut step = solve(hessian, gradient)?;
        // Damped: far from the optimum a full Newton step can overshoot.
        let largest = step.iter().fold(0.0_f64, |m, s| m.max(s.abs()));
        if largest > 2.0 {
            step.iter_mut().for_each(|s| *s *= 2.0 / largest);
        }
        let mut moved = 0.0_f64;
        for i in 0..N {
            beta[i] += step[i];
            moved = moved.max(step[i].abs());
        }
        if !beta.iter().all(|b| b.is_finite()) {
            return None;
        }
        if moved < 1e-8 {
            break;
        }
    }
    let mut values = [0.0; FACTORS];
    values.copy_from_slice(&beta[1..]);
    Some(Weights { values, intercept: Some(beta[0]) })
}

/// Solves `a · x = b` by Gaussian elimination with partial pivoting; `None` when singular.
fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let pivot = (col..N).max_by(|i, j| a[*i][col].abs().total_cmp(&a[*j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for row in col + 1..N {
            let factor = a[row][col] / pivot_row[col];
            for (cell, above) in a[row].iter_mut().zip(&pivot_row).skip(col) {
                *cell -= factor * above;
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = [0.0; N];
    for row in (0..N).rev() {
        let rest: f64 = (row + 1..N).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - rest) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    struct Owned {
        countries: Vec<String>,
        regions: Vec<String>,
        products: Vec<String>,
    }

    fn facts(owned: &Owned) -> PartnerFacts<'_> {
        PartnerFacts {
            countries: &owned.countries,
            regions: &owned.regions,
            products: &owned.products,
            tier_level: 0.5,
            certifications: 0,
            similar: Record::default(),
            overall: Record::default(),
            median_days_to_close: None,
            offers: OfferRecord::default(),
            median_response_hours: None,
            open_leads: 0,
            capacity: 10,
        }
    }

    #[test]
    fn the_reasons_add_up_to_the_score_and_the_default_points_to_100() {
        let total: f64 = Factor::ALL.iter().map(|f| Weights::default().of(*f)).sum();
        assert!((total - 100.0).abs() < 1e-9);
        let owned = Owned { countries: strings(&["DE"]), regions: strings(&["Bavaria"]), products: strings(&["Firewall"]) };
        let lead = LeadFacts { country: "de", region: Some("bavaria"), product: Some("firewall") };
        let matched = score(&Weights::default(), "p1", &features(&lead, &facts(&owned)));
        let sum: f64 = matched.reasons.iter().map(Reason::contribution).sum();
        assert!((sum - matched.score).abs() < 1e-9);
        assert_eq!(matched.reasons[0].factor, Factor::Territory, "the largest contribution first");
        assert_eq!(matched.probability, None, "hand-set weights claim no probability");
    }

    #[test]
    fn serving_the_territory_and_the_product_ranks_first_and_a_full_partner_is_no_candidate() {
        let local = Owned { countries: strings(&["FR"]), regions: strings(&["Bretagne"]), products: strings(&["Backup"]) };
        let country_only = Owned { countries: strings(&["FR"]), regions: strings(&["Alsace"]), products: strings(&["Backup"]) };
        let foreign = Owned { countries: strings(&["ES"]), regions: Vec::new(), products: strings(&["Backup"]) };
        let lead = LeadFacts { country: "FR", region: Some("Bretagne"), product: Some("Backup") };
        let mut full = facts(&local);
        full.open_leads = 10;
        let candidates =
            [("a-foreign", facts(&foreign)), ("b-country", facts(&country_only)), ("c-local", facts(&local)), ("d-full", full)];
        let ranked: Vec<&str> = rank(&Weights::default(), &lead, &candidates).iter().map(|m| m.partner).collect();
        assert_eq!(ranked, ["c-local", "b-country", "a-foreign"]);
    }

    #[test]
    fn a_thin_record_leans_on_the_overall_rate_and_no_record_on_one_half() {
        let owned = Owned { countries: Vec::new(), regions: Vec::new(), products: Vec::new() };
        let lead = LeadFacts { country: "DE", region: None, product: None };
        let mut partner = facts(&owned);
        assert!((features(&lead, &partner)[Factor::WinRate.index()] - 0.5).abs() < 1e-9);
        partner.overall = Record { won: 79, lost: 19 };
        partner.similar = Record { won: 0, lost: 1 };
        let rate = features(&lead, &partner)[Factor::WinRate.index()];
        assert!(rate > 0.5 && rate < 0.8, "one lost similar deal does not outweigh a strong record: {rate}");
    }

    #[test]
    fn fitting_recovers_which_factors_decide_and_needs_enough_outcomes() {
        // Outcomes from a known model: territory and win rate decide, product a little, the rest
        // not at all. A deterministic generator (no randomness in unit tests).
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut outcomes = Vec::new();
        for _ in 0..4000 {
            let mut x = [0.0; FACTORS];
            for value in &mut x {
                *value = next();
            }
            let z = -2.0 + 3.0 * x[Factor::Territory.index()] + 2.0 * x[Factor::WinRate.index()] + 0.8 * x[Factor::Product.index()];
            outcomes.push((x, next() < sigmoid(z)));
        }
        let no_prior = Weights::manual([]);
        assert_eq!(fit(&outcomes[..150], &no_prior), None, "too few outcomes");
        let weights = fit(&outcomes, &no_prior).expect("a model");
        assert!(weights.is_fitted());
        assert!((weights.of(Factor::Territory) - 3.0).abs() < 0.6, "{weights:?}");
        assert!((weights.of(Factor::WinRate) - 2.0).abs() < 0.6, "{weights:?}");
        assert!(weights.of(Factor::Speed).abs() < 0.5, "{weights:?}");
        let x = [1.0; FACTORS];
        let matched = score(&weights, 1, &x);
        let p = matched.probability.expect("a probability");
        assert!(p > 0.5 && p < 1.0, "{p}");
        // A factor the outcomes never vary in keeps the prior's weight.
        let constant: Vec<_> = outcomes.iter().map(|(x, won)| (with(x, Factor::Capacity, 1.0), *won)).collect();
        let weights = fit(&constant, &Weights::default()).expect("a model");
        let prior = Weights::default().of(Factor::Capacity) * PRIOR_LOG_ODDS_PER_POINT;
        assert!((weights.of(Factor::Capacity) - prior).abs() < 0.2, "{weights:?}");
    }

    fn with(x: &[f64; FACTORS], factor: Factor, value: f64) -> [f64; FACTORS] {
        let mut out = *x;
        out[factor.index()] = value;
        out
    }
}
