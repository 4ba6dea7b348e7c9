//! The page routes, built as a table: every `route` names its methods through [`get`] and
//! [`post`], so the router and the list of its (method, path) pairs ([`crate::page_routes`]) are
//! one thing. The authorization matrix compares that list with its page rows, so a page route
//! without a row fails the tests (ADR 0010), as an API route missing from the OpenAPI document's
//! rows does.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::MethodRouter;
use trellis_web::AppState;
use trellis_web::limits::MAX_UPLOAD_BODY_BYTES;

/// The handlers of one path, and which methods they answer.
pub struct PageMethods {
    methods: Vec<Method>,
    router: MethodRouter<AppState>,
}

/// `GET` (and, as axum does, `HEAD`) of a path.
pub fn get<H: Handler<T, AppState>, T: 'static>(handler: H) -> PageMethods {
    PageMethods { methods: vec![Method::GET], router: axum::routing::get(handler) }
}

/// `POST` of a path.
pub fn post<H: Handler<T, AppState>, T: 'static>(handler: H) -> PageMethods {
    PageMethods { methods: vec![Method::POST], router: axum::routing::post(handler) }
}

impl PageMethods {
    /// `POST` of the same path.
    pub fn post<H: Handler<T, AppState>, T: 'static>(mut self, handler: H) -> Self {
        self.methods.push(Method::POST);
        self.router = self.router.post(handler);
        self
    }
}

/// Page routes and their table.
#[derive(Default)]
pub struct PageRouter {
    router: Router<AppState>,
    table: Vec<(Method, &'static str)>,
}

impl PageRouter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route(mut self, path: &'static str, methods: PageMethods) -> Self {
        self.table.extend(methods.methods.into_iter().map(|method| (method, path)));
        self.router = self.router.route(path, methods.router);
        self
    }

    pub fn merge(mut self, other: PageRouter) -> Self {
        self.table.extend(other.table);
        self.router = self.router.merge(other.router);
        self
    }

    /// Raises the body limit of the routes added so far to that of a file upload.
    pub fn with_upload_limit(mut self) -> Self {
        self.router = self.router.layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY_BYTES));
        self
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }

    pub fn into_table(self) -> Vec<(Method, &'static str)> {
        self.table
    }
}
