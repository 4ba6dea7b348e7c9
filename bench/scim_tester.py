#!/usr/bin/env python3
"""Run scim2-tester (0.5.x) against a SCIM 2.0 server; exit 1 if any check fails.

Usage:
    run_scim_tester.py BASE_URL TOKEN [-v] [--wait SECS] [--include TAG ...] [--exclude TAG ...]
    e.g. run_scim_tester.py http://127.0.0.1:8080/scim/v2 s3cr3t -v

Needs: pip install scim2-tester httpx   (scim2-tester pulls scim2-client + scim2-models).
       If the 'httpx2' package is installed, scim2-client's own engine is used instead.

Tags (hierarchical: "crud" matches "crud:read"): discovery, service-provider-config,
resource-types, schemas, misc, crud:create, crud:read, crud:read:attributes,
crud:update, crud:delete, patch:add, patch:remove, patch:replace.
"""
import argparse
import sys
import time
import uuid

import httpx
import scim2_tester.checkers.patch_add as _patch_add
import scim2_tester.checkers.patch_replace as _patch_replace
import scim2_tester.filling as _filling
from scim2_client import BaseSyncSCIMClient, RequestNetworkException
from scim2_tester import Status, check_server

# scim2-tester 0.5.2 only emits SUCCESS, ERROR, CRITICAL and SKIPPED.
FAILING = {Status.ERROR, Status.CRITICAL}

# --- value generation tweaks ------------------------------------------------------
# scim2-tester fills every string attribute with str(uuid4()) unless the schema
# attribute has canonicalValues (used as pydantic "examples" -> random.choice).
# Our server requires userName to be an email, so wrap its generator: userName gets
# a fresh unique email, password a value that passes usual strength rules.
# generate_random_value is used by fill_with_random_values (POST, PUT) and imported
# by name into the PATCH add/replace checkers, so patch all three references.
_original_generate = _filling.generate_random_value


def _generate_random_value(context, path, mutability=None, required=None):
    value = _original_generate(context, path, mutability=mutability, required=required)
    if value is None:
        return value
    attr = str(path).rsplit(":", 1)[-1]  # strip a schema URN prefix if any
    if attr == "userName":
        return f"scim-tester-{uuid.uuid4().hex[:12]}@example.com"
    if attr == "password":
        return f"Tst-{uuid.uuid4().hex}-Pw!9"
    return value


def install_value_tweaks() -> None:
    _filling.generate_random_value = _generate_random_value
    _patch_add.generate_random_value = _generate_random_value
    _patch_replace.generate_random_value = _generate_random_value


# --- HTTP engine ------------------------------------------------------------------
class HttpxSCIMClient(BaseSyncSCIMClient):
    """Minimal scim2-client engine over plain httpx (mirrors scim2_client.engines.httpx2)."""

    def __init__(self, client: httpx.Client, **kwargs):
        super().__init__(**kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        base = self.client.base_url
        try:
            url = self.client.build_request("GET", endpoint).url
        except httpx.InvalidURL:
            return False
        return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port) \
            and url.raw_path.startswith(base.raw_path)

    def _parse_json(self, response):
        return response.json()

    def request(self, method: str, url: str, **kwargs):
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            err = RequestNetworkException()
            err.add_note(str(exc))
            raise err from exc


def make_client(base_url: str, token: str) -> BaseSyncSCIMClient:
    headers = {"Authorization": f"Bearer {token}"}
    base_url = base_url.rstrip("/")
    try:  # pip install "scim2-client[httpx2]"
        import httpx2
        from scim2_client.engines.httpx2 import SyncSCIMClient
        return SyncSCIMClient(httpx2.Client(base_url=base_url, headers=headers, timeout=30))
    except ImportError:
        return HttpxSCIMClient(httpx.Client(base_url=base_url, headers=headers, timeout=30))


def wait_for(base_url: str, token: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base_url.rstrip('/')}/ServiceProviderConfig",
                      headers={"Authorization": f"Bearer {token}"}, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base_url", help="e.g. http://127.0.0.1:8080/scim/v2")
    ap.add_argument("token", help="bearer token")
    ap.add_argument("--include", nargs="*", help="only run checks with these tags")
    ap.add_argument("--exclude", nargs="*", help="skip checks with these tags")
    ap.add_argument("--wait", type=float, default=0, help="wait up to SECS for the server")
    ap.add_argument("--raw-values", action="store_true",
                    help="keep scim2-tester's uuid4 userName/password values")
    ap.add_argument("-v", "--verbose", action="store_true", help="print data of failing checks")
    args = ap.parse_args()

    if not args.raw_values:
        install_value_tweaks()
    if args.wait:
        wait_for(args.base_url, args.token, args.wait)

    client = make_client(args.base_url, args.token)
    # check_server reads /ServiceProviderConfig, /ResourceTypes, /Schemas itself and
    # builds the User model from them (no client.discover() needed).
    results = check_server(
        client,
        include_tags=set(args.include) if args.include else None,
        exclude_tags=set(args.exclude) if args.exclude else None,
        resource_types=["User"],
    )

    for r in results:
        mark = "FAIL" if r.status in FAILING else r.status.name
        where = f"[{r.resource_type}] " if r.resource_type else ""
        print(f"{mark:8} {where}{r.title}: {r.reason or ''}".rstrip())
        if args.verbose and r.status in FAILING and r.data is not None:
            print(f"         data: {r.data!r}"[:3000])

    failed = sum(r.status in FAILING for r in results)
    skipped = sum(r.status == Status.SKIPPED for r in results)
    passed = len(results) - failed - skipped
    print(f"\nscim2-tester: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
