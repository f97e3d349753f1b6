"""A member's client of the hub API: every request signed with the agency's key.

Error responses come back as the same :mod:`vigil.errors` classes the hub raised (matched by
their ``code``), so ``vigil share push`` can tell a replay from a policy refusal.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil import errors
from vigil.share.protocol import sign_request


def _error_classes() -> dict[str, type[errors.VigilError]]:
    out: dict[str, type[errors.VigilError]] = {}
    todo: list[type[errors.VigilError]] = [errors.VigilError]
    while todo:
        cls = todo.pop()
        out.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return out


class HubClient:
    """Signed calls to one hub. ``http`` may be any ``httpx.Client`` (tests pass a TestClient)."""

    def __init__(
        self,
        base_url: str,
        key: Ed25519PrivateKey,
        *,
        http: httpx.Client | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.key = key
        self._owns_http = http is None
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        """Close the connection pool this client opened (one passed in is the caller's)."""
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(
        self, method: str, path: str, body: bytes = b"", *, content_type: str = "application/json"
    ) -> Any:
        headers = sign_request(method, path, body, self.key)
        headers["content-type"] = content_type
        try:
            resp = self.http.request(method, path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise errors.BackendError(f"hub unreachable: {exc}") from exc
        if resp.status_code >= 400:
            try:
                err = resp.json()
            except ValueError:
                err = None
            if isinstance(err, dict) and "error" in err and "message" in err:
                cls = _error_classes().get(str(err["error"]), errors.BackendError)
                raise cls(str(err["message"]))
            raise errors.BackendError(f"hub answered {resp.status_code}: {resp.text[:300]}")
        if resp.headers.get("content-type", "").startswith("text/html"):
            return resp.text
        return resp.json()

    def _json(self, method: str, path: str, payload: dict[str, Any]) -> Any:
        return self.call(method, path, json.dumps(payload).encode())

    def push(self, envelope: bytes) -> dict[str, Any]:
        """Send a signed bundle (from :func:`vigil.share.protocol.sign_bundle`)."""
        result: dict[str, Any] = self.call("POST", "/api/v1/bundles", envelope)
        return result

    def notifications(self, *, include_rejected: bool = False) -> list[dict[str, Any]]:
        path = "/api/v1/notifications" + ("?include_rejected=true" if include_rejected else "")
        result: list[dict[str, Any]] = self.call("GET", path)
        return result

    def decide(self, overlap_id: int, decision: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST", f"/api/v1/overlaps/{overlap_id}/decision", {"decision": decision}
        )
        return result

    def proof_send(self, overlap_id: int, sealed: str) -> dict[str, Any]:
        """Lend this agency's sealed scene features for a same-room proof (side a)."""
        result: dict[str, Any] = self._json(
            "POST", f"/api/v1/overlaps/{overlap_id}/proof/features", {"sealed": sealed}
        )
        return result

    def proof_features(self, overlap_id: int) -> dict[str, Any]:
        """The sealed features the other agency lent for this overlap (side b)."""
        result: dict[str, Any] = self.call("GET", f"/api/v1/overlaps/{overlap_id}/proof/features")
        return result

    def proof_result(self, overlap_id: int, result: dict[str, Any]) -> dict[str, Any]:
        """Report a proof: verdict, counts and inlier coordinates only (side b)."""
        answer: dict[str, Any] = self._json(
            "POST", f"/api/v1/overlaps/{overlap_id}/proof/result", result
        )
        return answer

    def board(self, operation: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/api/v1/operations/{quote(operation)}/board")
        return result

    def board_html(self, operation: str) -> str:
        return str(self.call("GET", f"/operations/{quote(operation)}"))

    def set_target(self, operation: str, ref: str, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "PUT", f"/api/v1/operations/{quote(operation)}/targets/{quote(ref)}", changes
        )
        return result

    def update_target(self, target_id: int, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._json("PATCH", f"/api/v1/targets/{target_id}", changes)
        return result

    def set_checklist(self, operation: str, item: str, done: bool) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "PUT", f"/api/v1/operations/{quote(operation)}/checklist", {"item": item, "done": done}
        )
        return result
