//! The matching simulation of issue 13 (`bench/matching.sh`): does Trellis's matching give leads
//! to partners that win them?
//!
//! Synthetic partners with hidden win probabilities that depend on whether they serve the lead's
//! territory and product, on a hidden skill, and on how loaded they are; 20,000 leads over a
//! simulated year; every outcome drawn from the hidden model. The same leads, with the same random
//! draws (common random numbers), go through four strategies:
//!
//! - **random**: any partner with room;
//! - **round-robin**: the next partner with room, in turn;
//! - **Trellis**: `trellis_leads::matching::rank` on what a PRM knows of a partner — the territories
//!   and products of its profile, its tier and certifications, its record on deals that closed
//!   (known only once they closed), how it answered earlier offers, its open leads — with the
//!   default weights until enough outcomes exist, then weights refit monthly to the outcomes (and,
//!   to show what the refit adds, the default weights throughout);
//! - **oracle**: knows the hidden probabilities (to win, and to accept) and offers to the partner
//!   likeliest to win the lead first.
//!
//! Each offer waits for the partner: it accepts, declines, or lets the 48-hour SLA pass, and the
//! lead goes to the next candidate (at most five). Printed: each strategy's win rate (leads won of
//! all leads) and the median hours a lead waits for acceptance; Trellis against round-robin
//! (target ≥ 1.5×) and as a share of the oracle (target ≥ 80%). Exits 1 when a target is missed.
//!
//! `cargo run --release -p trellis-leads --example matching_bench -- [leads] [partners] [seed]`

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use trellis_leads::matching::{self, FACTORS, LeadFacts, OfferRecord, PartnerFacts, Record, Weights};

const DAYS: f64 = 365.0;
const SLA_HOURS: f64 = 48.0;
const MAX_OFFERS: usize = 5;
const COUNTRIES: usize = 10;
const REGIONS_PER_COUNTRY: usize = 4;
const PRODUCTS: usize = 8;
const REFIT_HOURS: f64 = 30.0 * 24.0;

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

struct Partner {
    // What the PRM knows (the profile, tier, certifications, capacity).
    countries: Vec<String>,
    regions: Vec<String>,
    products: Vec<String>,
    tier_level: f64,
    certifications: u32,
    capacity: u32,
    // Hidden.
    skill: f64,
    accept_probability: f64,
    median_response_hours: f64,
    median_close_days: f64,
}

struct Lead {
    at_hours: f64,
    country: String,
    region: String,
    product: String,
    // Common random numbers: every strategy sees the same draws.
    outcome: f64,
    accepts: [f64; MAX_OFFERS],
    response: [f64; MAX_OFFERS],
    close: f64,
    shuffle_seed: u64,
}

fn world(leads: usize, partners: usize, seed: u64) -> (Vec<Partner>, Vec<Lead>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let country = |i: usize| format!("C{i}");
    let region = |c: usize, r: usize| format!("C{c}-R{r}");
    // Larger markets first: country i has weight 1 / (i + 1).
    let weights: Vec<f64> = (0..COUNTRIES).map(|i| 1.0 / (i as f64 + 1.0)).collect();
    let total: f64 = weights.iter().sum();
    let pick_country = |rng: &mut StdRng| {
        let mut u = rng.random::<f64>() * total;
        for (i, w) in weights.iter().enumerate() {
            if u < *w {
                return i;
            }
            u -= w;
        }
        COUNTRIES - 1
    };
    let mut all = Vec::with_capacity(partners);
    for _ in 0..partners {
        let home = pick_country(&mut rng);
        let mut served = vec![home];
        if rng.random::<f64>() < 0.3 {
            served.push((home + 1 + rng.random_range(0..COUNTRIES - 1)) % COUNTRIES);
        }
        let mut regions = Vec::new();
        for c in &served {
            let mut rs: Vec<usize> = (0..REGIONS_PER_COUNTRY).collect();
            rs.shuffle(&mut rng);
            for r in rs.iter().take(rng.random_range(1..=3)) {
                regions.push(region(*c, *r));
            }
        }
        let mut products: Vec<usize> = (0..PRODUCTS).collect();
        products.shuffle(&mut rng);
        let products = products.iter().take(rng.random_range(1..=3)).map(|p| format!("P{p}")).collect();
        let skill = 0.8 * normal(&mut rng);
        // Tiers follow revenue, which skill drives only in part.
        let tier = ((skill + 0.7 * normal(&mut rng)) / 0.8 + 1.5).round().clamp(0.0, 3.0);
        let certifications = ((skill + normal(&mut rng)) + 1.5).round().clamp(0.0, 4.0) as u32;
        all.push(Partner {
            countries: served.iter().map(|c| country(*c)).collect(),
            regions,
            products,
            tier_level: tier / 3.0,
            certifications,
            capacity: rng.random_range(3..=12),
            skill,
            accept_probability: rng.random_range(0.55..0.95),
            median_response_hours: (12.0_f64.ln() + 0.9 * normal(&mut rng)).exp(),
            median_close_days: rng.random_range(20.0..90.0),
        });
    }
    let mut leads_out: Vec<Lead> = (0..leads)
        .map(|_| {
            let c = pick_country(&mut rng);
            Lead {
                at_hours: rng.random::<f64>() * DAYS * 24.0,
                country: country(c),
                region: region(c, rng.random_range(0..REGIONS_PER_COUNTRY)),
                product: format!("P{}", rng.random_range(0..PRODUCTS)),
                outcome: rng.random(),
                accepts: std::array::from_fn(|_| rng.random()),
                response: std::array::from_fn(|_| normal(&mut rng)),
                close: normal(&mut rng),
                shuffle_seed: rng.random(),
            }
        })
        .collect();
    leads_out.sort_by(|a, b| a.at_hours.total_cmp(&b.at_hours));
    (all, leads_out)
}

/// The hidden chance that `partner` wins `lead` with `open` leads on its desk.
fn true_probability(partner: &Partner, lead: &Lead, open: u32) -> f64 {
    let serves = |list: &[String], wanted: &str| list.iter().any(|x| x == wanted);
    let territory = match (serves(&partner.countries, &lead.country), serves(&partner.regions, &lead.region)) {
        (true, true) => 1.0,
        (true, false) => 0.4,
        _ => 0.0,
    };
    let product = if serves(&partner.products, &lead.product) { 1.0 } else { 0.0 };
    let load = f64::from(open) / f64::from(partner.capacity);
    sigmoid(-2.2 + 1.8 * territory + 1.2 * product + partner.skill - 2.5 * (load - 0.6).max(0.0))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Random,
    RoundRobin,
    /// Trellis with the default weights throughout (what learning adds, by difference).
    TrellisDefaults,
    Trellis,
    Oracle,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::RoundRobin => "round_robin",
            Strategy::TrellisDefaults => "trellis_default_weights",
            Strategy::Trellis => "trellis",
            Strategy::Oracle => "oracle",
        }
    }
}

/// A lead that will close: when, for whom, whether it was won, and what matching saw at the offer.
struct Closing {
    partner: usize,
    key: (String, String),
    won: bool,
    days: f64,
    features: [f64; FACTORS],
}

#[derive(Default)]
struct Outcome {
    won: usize,
    unplaced: usize,
    waits: Vec<f64>,
    fitted_at_day: Option<f64>,
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// Keeps the latest [`RECENT`] values (a median of recent behaviour, as the product computes it).
fn remember(values: &mut Vec<f64>, value: f64) {
    if values.len() == RECENT {
        values.remove(0);
    }
    values.push(value);
}

const RECENT: usize = 25;

fn run(strategy: Strategy, partners: &[Partner], leads: &[Lead]) -> Outcome {
    let n = partners.len();
    let mut open = vec![0_u32; n];
    let mut closings: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut pending: Vec<Option<Closing>> = Vec::new();
    let mut overall = vec![Record::default(); n];
    let mut similar: HashMap<(usize, String, String), Record> = HashMap::new();
    let mut close_days: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut offers = vec![OfferRecord::default(); n];
    let mut responses: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut samples: Vec<([f64; FACTORS], bool)> = Vec::new();
    let mut weights = Weights::default();
    let mut next_fit = REFIT_HOURS;
    let mut turn = 0_usize;
    let mut outcome = Outcome::default();
    for lead in leads {
        // What closed before this lead came in is known now.
        while let Some(Reverse((at, slot))) = closings.peek().copied() {
            if at as f64 / 1000.0 > lead.at_hours {
                break;
            }
            closings.pop();
            let Some(closing) = pending[slot].take() else { continue };
            open[closing.partner] -= 1;
            let record = similar.entry((closing.partner, closing.key.0, closing.key.1)).or_default();
            if closing.won {
                record.won += 1;
                overall[closing.partner].won += 1;
            } else {
                record.lost += 1;
                overall[closing.partner].lost += 1;
            }
            remember(&mut close_days[closing.partner], closing.days);
            samples.push((closing.features, closing.won));
        }
        if strategy == Strategy::Trellis && lead.at_hours >= next_fit {
            next_fit += REFIT_HOURS;
            if let Some(fitted) = matching::fit(&samples, &Weights::default()) {
                outcome.fitted_at_day.get_or_insert(lead.at_hours / 24.0);
                weights = fitted;
            }
        }
        let facts = LeadFacts { country: &lead.country, region: Some(&lead.region), product: Some(&lead.product) };
        let partner_facts = |i: usize| PartnerFacts {
            countries: &partners[i].countries,
            regions: &partners[i].regions,
            products: &partners[i].products,
            tier_level: partners[i].tier_level,
            certifications: partners[i].certifications,
            similar: similar.get(&(i, lead.country.clone(), lead.product.clone())).copied().unwrap_or_default(),
            overall: overall[i],
            median_days_to_close: median(&mut close_days[i].clone()),
            offers: offers[i],
            median_response_hours: median(&mut responses[i].clone()),
            open_leads: open[i],
            capacity: partners[i].capacity,
        };
        let with_room: Vec<usize> = (0..n).filter(|i| open[*i] < partners[*i].capacity).collect();
        let order: Vec<usize> = match strategy {
            Strategy::Random => {
                let mut order = with_room;
                order.shuffle(&mut StdRng::seed_from_u64(lead.shuffle_seed));
                order
            }
            Strategy::RoundRobin => (0..n).map(|k| (turn + k) % n).filter(|i| open[*i] < partners[*i].capacity).collect(),
            Strategy::Trellis | Strategy::TrellisDefaults => {
                let candidates: Vec<(usize, PartnerFacts<'_>)> = with_room.iter().map(|i| (*i, partner_facts(*i))).collect();
                matching::rank(&weights, &facts, &candidates).into_iter().map(|m| m.partner).collect()
            }
            Strategy::Oracle => {
                // The likeliest won lead first: the chance to win, times the chance to accept.
                let mut order = with_room;
                let p: Vec<f64> = (0..n).map(|i| true_probability(&partners[i], lead, open[i]) * partners[i].accept_probability).collect();
                order.sort_by(|a, b| p[*b].total_cmp(&p[*a]).then(a.cmp(b)));
                order
            }
        };
        // What matching sees of each partner offered the lead, at the time of the offer.
        let seen: Vec<[f64; FACTORS]> = order.iter().take(MAX_OFFERS).map(|i| matching::features(&facts, &partner_facts(*i))).collect();
        let mut waited = 0.0;
        let mut placed = None;
        for (attempt, i) in order.iter().take(MAX_OFFERS).enumerate() {
            let partner = &partners[*i];
            let hours = partner.median_response_hours * (0.6 * lead.response[attempt]).exp();
            // An offer declined or let expire is an outcome too: the lead was not won through it.
            if hours > SLA_HOURS {
                waited += SLA_HOURS;
                offers[*i].refused += 1;
                samples.push((seen[attempt], false));
            } else if lead.accepts[attempt] >= partner.accept_probability {
                waited += hours;
                offers[*i].refused += 1;
                remember(&mut responses[*i], hours);
                samples.push((seen[attempt], false));
            } else {
                waited += hours;
                offers[*i].accepted += 1;
                remember(&mut responses[*i], hours);
                placed = Some((*i, seen[attempt]));
                break;
            }
        }
        let Some((i, features)) = placed else {
            outcome.unplaced += 1;
            continue;
        };
        turn = i + 1;
        outcome.waits.push(waited);
        let won = lead.outcome < true_probability(&partners[i], lead, open[i]);
        outcome.won += usize::from(won);
        open[i] += 1;
        let days = partners[i].median_close_days * (0.4 * lead.close).exp();
        let closes_at = lead.at_hours + waited + days * 24.0;
        pending.push(Some(Closing { partner: i, key: (lead.country.clone(), lead.product.clone()), won, days, features }));
        closings.push(Reverse(((closes_at * 1000.0) as u64, pending.len() - 1)));
    }
    outcome
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let leads: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let partners: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(600);
    let seed: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20_261_207);
    let (partner_list, lead_list) = world(leads, partners, seed);
    println!("FIGURE matching leads={leads} partners={partners} days={DAYS} sla_hours={SLA_HOURS} seed={seed}");
    let mut rates = HashMap::new();
    for strategy in [Strategy::Random, Strategy::RoundRobin, Strategy::TrellisDefaults, Strategy::Trellis, Strategy::Oracle] {
        let started = std::time::Instant::now();
        let mut outcome = run(strategy, &partner_list, &lead_list);
        let rate = outcome.won as f64 / leads as f64;
        rates.insert(strategy.name(), rate);
        let wait = median(&mut outcome.waits).unwrap_or(f64::NAN);
        let fitted = outcome.fitted_at_day.map_or_else(String::new, |day| format!(" weights_fitted_from_day={day:.0}"));
        println!(
            "FIGURE strategy={} win_rate={rate:.3} median_wait_hours={wait:.1} unplaced={}{fitted} seconds={:.2}",
            strategy.name(),
            outcome.unplaced,
            started.elapsed().as_secs_f64()
        );
    }
    let against_round_robin = rates["trellis"] / rates["round_robin"];
    let share_of_oracle = rates["trellis"] / rates["oracle"];
    let met = against_round_robin >= 1.5 && share_of_oracle >= 0.8;
    println!(
        "FIGURE trellis_vs_round_robin={against_round_robin:.2}x (target >= 1.5x) trellis_share_of_oracle={:.1}% (target >= 80%) {}",
        share_of_oracle * 100.0,
        if met { "met" } else { "MISSED" }
    );
    if !met {
        std::process::exit(1);
    }
}
