"""Endpoints for partners to check their set-up."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from ampere.api.auth import PartnerSignature, partner_of

router = Router(tags=["partners"])


class WhoAmI(Schema):
    client: str
    name: str
    utility: str
    scopes: list[str]
    key_id: str


@router.get("/whoami", response=WhoAmI, auth=PartnerSignature(scope=None))
def whoami(request: HttpRequest) -> WhoAmI:
    """Who the signed request authenticates as: use it to test your signing."""
    partner = partner_of(request)
    return WhoAmI(
        client=partner.code,
        name=partner.name,
        utility=partner.utility_code,
        scopes=sorted(partner.scopes),
        key_id=partner.key_id,
    )
