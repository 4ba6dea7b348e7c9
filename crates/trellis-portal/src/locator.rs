//! The public partner locator: `GET /partners` ("Find a partner", no sign-in, no script needed:
//! the filters are a GET form) and `GET /partners/logos/{file_id}` (logos of listed partners).
//! Both read in the system context of the workspace (see `trellis_records::locator`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use trellis_core::{FileId, Page, PartnerId, PartnerType};
use trellis_identity::workspaces;
use trellis_records::locator::{self, Found, ListedPartner, LocatorFilter};
use trellis_web::AppState;
use trellis_web::downloads::file_response;

use crate::display;
use crate::forms::{Choice, FormView, UrlQuery};
use crate::listing::{PAGE_SIZE, page_url};
use crate::pages::{Layout, PageResult, path_id, render};
use crate::routes::{PageRouter, get};

const PATH: &str = "/partners";
const FILTER_FIELDS: &[&str] = &["q", "country", "region", "type", "tier", "specialisation"];

struct PartnerCard {
    name: String,
    description: String,
    website: Option<String>,
    logo_url: Option<String>,
    territories: String,
    types: String,
    tiers: String,
    specialisations: String,
}

impl From<ListedPartner> for PartnerCard {
    fn from(p: ListedPartner) -> Self {
        let mut territories = display::country_names(&p.countries);
        territories.extend(p.regions);
        Self {
            logo_url: p.logo_file_id.map(|f| format!("/partners/logos/{f}")),
            name: p.name,
            description: p.description,
            website: p.website,
            territories: territories.join(", "),
            types: display::partner_types(&p.types),
            tiers: p.tiers.join(", "),
            specialisations: p.specialisations.join(", "),
        }
    }
}

#[derive(Template)]
#[template(path = "locator.html")]
struct LocatorPage {
    layout: Layout,
    /// The workspace named in the address, kept by the filter form.
    workspace: String,
    filters: FormView,
    countries: Vec<Choice>,
    regions: Vec<Choice>,
    types: Vec<Choice>,
    tiers: Vec<Choice>,
    specialisations: Vec<Choice>,
    partners: Vec<PartnerCard>,
    /// "12 partners found" (over every page of the search).
    found: String,
    filtered: bool,
    next_page: Option<String>,
    first_page: Option<String>,
}

/// The result count in words: "1 partner found", "12 partners found", "More than 1,000 partners found".
fn found_text(found: Found) -> String {
    match (found.count, found.more) {
        (_, true) => format!("More than {} partners found", display::thousands(found.count)),
        (1, false) => "1 partner found".to_owned(),
        (n, false) => format!("{} partners found", display::thousands(n)),
    }
}

fn choices(values: &[String]) -> Vec<Choice> {
    values.iter().map(|v| Choice { value: v.clone(), label: v.clone() }).collect()
}

/// `GET /partners?workspace=&q=&country=&region=&type=&tier=&specialisation=&cursor=`
async fn find_a_partner(State(state): State<AppState>, UrlQuery(query): UrlQuery) -> PageResult {
    let workspace = query.optional("workspace").unwrap_or("").to_owned();
    let workspace_id = locator::workspace_for(&state.ctx, Some(&workspace)).await?;
    let value = |name: &str| query.optional(name).unwrap_or("").to_owned();
    let partner_type = query.optional("type").and_then(PartnerType::parse);
    let cursor = query.optional("cursor").and_then(|c| PartnerId::parse(c).ok());
    let filter = LocatorFilter {
        country: query.optional("country").map(str::to_owned),
        region: query.optional("region").map(str::to_owned),
        partner_type,
        tier: query.optional("tier").map(str::to_owned),
        specialisation: query.optional("specialisation").map(str::to_owned),
        q: query.optional("q").map(str::to_owned),
        after: cursor.clone(),
        limit: Some(PAGE_SIZE),
    };
    let Page { items: listed, next_cursor: next } = locator::search(&state.ctx, &workspace_id, &filter).await?;
    let found = locator::count(&state.ctx, &workspace_id, &filter).await?;
    let offered = locator::choices(&state.ctx, &workspace_id).await?;
    let values: Vec<(&str, String)> = FILTER_FIELDS
        .iter()
        .map(|name| (*name, if *name == "type" { partner_type.map_or(String::new(), |t| t.as_str().to_owned()) } else { value(name) }))
        .collect();
    let url_of = |cursor: &str| {
        let mut params: Vec<(&str, &str)> = vec![("workspace", workspace.as_str())];
        params.extend(values.iter().map(|(k, v)| (*k, v.as_str())));
        params.push(("cursor", cursor));
        page_url(PATH, &params)
    };
    let page = LocatorPage {
        layout: Layout::public("Find a partner", workspaces::public_brand(&state.ctx, &workspace_id).await?),
        found: found_text(found),
        filtered: values.iter().any(|(_, v)| !v.is_empty()),
        next_page: next.map(|c| url_of(&c)),
        first_page: cursor.map(|_| url_of("")),
        filters: FormView::filled("find", FILTER_FIELDS, values.clone()),
        workspace: workspace.clone(),
        countries: offered
            .countries
            .iter()
            .map(|c| Choice { value: c.clone(), label: trellis_directory::countries::name(c).to_owned() })
            .collect(),
        regions: choices(&offered.regions),
        types: Choice::all_of(PartnerType::ALL, PartnerType::as_str),
        tiers: choices(&offered.tiers),
        specialisations: choices(&offered.specialisations),
        partners: listed.into_iter().map(PartnerCard::from).collect(),
    };
    Ok(render(&page))
}

/// `GET /partners/logos/{file_id}`: a listed partner's logo, shown inline and cacheable briefly
/// (a partner that leaves the locator stops being served within minutes).
async fn logo(State(state): State<AppState>, Path(file_id): Path<String>) -> PageResult {
    let file_id: FileId = path_id(&file_id)?;
    let (file, bytes) = locator::listed_logo(&state.ctx, &state.web.data_dir, &file_id).await?;
    let mut response = file_response(&file, bytes, HeaderValue::from_static("inline"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(response)
}

pub fn routes() -> PageRouter {
    PageRouter::new().route(PATH, get(find_a_partner)).route("/partners/logos/{file_id}", get(logo))
}
