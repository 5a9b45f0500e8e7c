"""Checks of OSM API requests: headers, credentials and query parameters."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
import re
from dataclasses import dataclass

from starlette.requests import Request

from osm_build.emulator.messages import CREDIT_PROMOTION, PLACEMENT_KEYS
from osm_build.emulator.settings import EmulatorSettings
from osm_build.locales import SUPPORTED_LOCALES

logger = logging.getLogger(__name__)

ALLOWED_PARAMETERS = ("client_id", "placement_key", "locale", "purchase_amount")
VERSIONS = ("v3", "v4")
MAX_AMOUNT_DIGITS = 15
_DIGITS = re.compile(r"[0-9]+")
_SUPPORTED_LOCALES = frozenset(SUPPORTED_LOCALES)


class ApiError(Exception):
    """An error response of the emulated API, with Klarna's error code."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


@dataclass(frozen=True)
class ApiRequest:
    """A request that passed every check."""

    version: str
    placement_key: str
    locale: str
    purchase_amount: int | None


def parse_amount(value: str | None) -> int | str | None:
    """Return ``value`` as an int when it is a string of digits, else unchanged (for the log)."""
    if value is not None and _DIGITS.fullmatch(value) and len(value) <= MAX_AMOUNT_DIGITS:
        return int(value)
    return value


def load_api_keys(env_name: str) -> tuple[str, ...]:
    """Read the accepted v4 API keys from a comma-separated environment variable."""
    raw = os.environ.get(env_name, "")
    return tuple(key.strip() for key in raw.split(",") if key.strip())


class RequestChecker:
    """Validates requests in the order of the status codes: 404, 403, 401, then 400."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.client_ids = frozenset(settings.client_ids)
        self.api_key_env = settings.api_key_env
        self.api_keys = tuple(key.encode() for key in load_api_keys(settings.api_key_env))
        if self.api_keys:
            logger.info(
                "/messaging/v4 accepts %d API key(s) from $%s",
                len(self.api_keys),
                settings.api_key_env,
            )
        else:
            logger.debug(
                "No API keys are set in the environment variable %s, so the emulator responds to "
                "every /messaging/v4 request with 401",
                settings.api_key_env,
            )

    def check(self, request: Request) -> ApiRequest:
        """Return the checked request, or raise ``ApiError`` with the error response of the API."""
        version = request.path_params["version"]
        if version not in VERSIONS:
            raise ApiError(
                404,
                "NOT_FOUND",
                f"/messaging/{version} does not exist; use /messaging/v3 or /messaging/v4.",
            )
        if not request.headers.get("user-agent"):
            raise ApiError(
                403,
                "FORBIDDEN",
                "The User-Agent header is missing; the OSM API responds 403 without one.",
            )
        if version == "v4" and not self._authorized(request.headers.get("authorization")):
            raise ApiError(
                401,
                "UNAUTHORIZED",
                "Missing or invalid HTTP Basic credentials: /messaging/v4 needs an API key as the "
                f"user name or password, and the emulator accepts the keys in ${self.api_key_env}.",
                {"www-authenticate": 'Basic realm="OSM API emulator"'},
            )

        query = request.query_params
        client_id = query.get("client_id")
        if client_id is None and version == "v3":
            raise ApiError(
                403, "FORBIDDEN", "client_id is missing; /messaging/v3 needs the store's client id."
            )
        if client_id is not None and client_id not in self.client_ids:
            raise ApiError(
                403,
                "FORBIDDEN",
                f"OSM API access is not enabled for client_id {client_id!r}. The emulator accepts "
                "the ids set with --client-id or emulator.client_ids.",
            )

        self._check_parameter_names(query.multi_items())
        placement_key = self._check_placement_key(query.get("placement_key"))
        locale = self._check_locale(query.get("locale"))
        amount = None
        if placement_key == CREDIT_PROMOTION:
            amount = self._check_amount(query.get("purchase_amount"))
        # NOTE: top-strip-promotion-badge takes no amount; the emulator ignores one if sent.
        return ApiRequest(version, placement_key, locale, amount)

    def _authorized(self, header: str | None) -> bool:
        """Tell whether an Authorization header carries an accepted key as user name or password."""
        if not header or not self.api_keys:
            return False
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        username, _, password = decoded.partition(b":")
        return any(
            hmac.compare_digest(username, key) or hmac.compare_digest(password, key)
            for key in self.api_keys
        )

    @staticmethod
    def _check_parameter_names(items: list[tuple[str, str]]) -> None:
        names = [name for name, _ in items]
        unexpected = sorted({name for name in names if name not in ALLOWED_PARAMETERS})
        if unexpected:
            raise ApiError(
                400,
                "BAD_VALUE",
                f"Unexpected query parameter(s) {', '.join(unexpected)}: send only client_id, "
                "placement_key, locale and purchase_amount.",
            )
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ApiError(
                400,
                "BAD_VALUE",
                f"Query parameter(s) {', '.join(repeated)} appear more than once; send each once.",
            )

    @staticmethod
    def _check_placement_key(value: str | None) -> str:
        if value not in PLACEMENT_KEYS:
            problem = "missing" if value is None else f"{value!r}, which is not supported"
            raise ApiError(
                400,
                "BAD_VALUE",
                f"placement_key is {problem}; use credit-promotion-badge or "
                "top-strip-promotion-badge.",
            )
        return value

    @staticmethod
    def _check_locale(value: str | None) -> str:
        if value not in _SUPPORTED_LOCALES:
            problem = "missing" if value is None else f"{value!r}, which is not supported"
            raise ApiError(
                400,
                "BAD_VALUE",
                f"locale is {problem}; use one of the 47 OSM locales, such as en-US or de-DE.",
            )
        return value

    @staticmethod
    def _check_amount(value: str | None) -> int:
        amount = parse_amount(value)
        if not isinstance(amount, int) or amount <= 0:
            if value is None:
                problem = "missing"
            else:
                limit = MAX_AMOUNT_DIGITS
                problem = f"{value!r}, which is not a positive integer of up to {limit} digits"
            raise ApiError(
                400,
                "BAD_VALUE",
                f"purchase_amount is {problem}; credit-promotion-badge needs the price in minor "
                "units, for example 12000 for $120.00.",
            )
        return amount
