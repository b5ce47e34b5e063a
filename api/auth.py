"""Users, passwords, tokens, API keys, login rate limit and scopes.

- Passwords are hashed with Argon2id (argon2-cffi).
- ``/auth/token`` (OAuth2 password flow) issues an opaque random bearer token
  that expires after ``token_ttl_s``; only its SHA-256 is stored, so a copy of
  the database does not hold usable tokens. API keys (prefix ``jk_``) are
  random too and stored the same way; SHA-256 suffices for 256-bit random
  secrets, while low-entropy passwords need Argon2's cost.
- Failed logins are counted per (username, client IP) in the database, so
  the limit holds across workers and restarts: at ``login_max_failures``
  within ``login_window_s`` further attempts get 429 until the window passes.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .db import utcnow
from .models import (
    AccessToken,
    ApiKey,
    AuditEntry,
    BeatRow,
    BeatVersion,
    KobanRow,
    LoginFailure,
    OfficerRow,
    User,
)

API_KEY_PREFIX = "jk_"
_hasher = PasswordHasher()
# Verified against when the username is unknown, so that the response time
# does not tell whether a user exists.
_DUMMY_HASH = _hasher.hash("not-a-password")


class Role(StrEnum):
    OFFICER = "officer"
    MANAGER = "manager"
    ADMIN = "admin"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def workspace_station(session: Session, given: str) -> tuple[str | None, list[str]]:
    """The station of the workspace's koban that ``given`` names, and all of them.

    A manager may write the station as the police list does (金沢東警察署) or
    as the koban layer stores it (金沢東), in full- or half-width characters:
    both sides are compared by :func:`junkai_geo.formats.police.station_key`.
    Returns the stored spelling (so that the manager's scope, which compares
    stations as stored, finds its koban) or ``None``, and the stored stations.
    """
    from junkai_geo.formats.police import station_key

    stored = sorted(s for s in session.scalars(select(KobanRow.station).distinct()) if s)
    if given in stored:
        return given, stored
    key = station_key(given)
    match = [s for s in stored if station_key(s) == key]
    return (match[0] if match else None), stored


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role | str,
    *,
    officer_id: str | None = None,
    station: str | None = None,
) -> User:
    """Add a user; an officer needs ``officer_id``, a manager ``station``."""
    role = Role(role)
    if role is Role.OFFICER and not officer_id:
        raise ValueError("an officer user needs officer_id (the officer it is)")
    if role is Role.MANAGER and not station:
        raise ValueError("a manager user needs station (e.g. 金沢中)")
    if len(password) < 8:
        raise ValueError("password: found fewer than 8 characters; expected at least 8")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        officer_id=officer_id,
        station=station,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


@dataclass(frozen=True)
class LoginLimits:
    """How many failed logins are allowed within ``window_s`` seconds.

    - ``per_pair``: one username from one address (a mistyped password);
    - ``per_address``: any usernames from one address (one password tried on
      many accounts);
    - ``per_account``: one username from any address (many addresses guessing
      one account). Past it the account still opens from an address that
      logged in to it successfully within ``known_address_days``, so an
      attacker elsewhere cannot lock the real user out of their own tablet.
    """

    per_pair: int = 5
    per_address: int = 20
    per_account: int = 20
    window_s: int = 300
    known_address_days: int = 30


def _failures(session: Session, since: Any, *where: Any) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(LoginFailure).where(LoginFailure.at >= since, *where)
        )
        or 0
    )


def login_block_reason(
    session: Session, username: str, client_ip: str, limits: LoginLimits
) -> str | None:
    """Why a login attempt is refused before its password is checked, or None."""
    since = utcnow() - timedelta(seconds=limits.window_s)
    name, ip = username[:64], client_ip[:64]
    if _failures(session, since, LoginFailure.username == name, LoginFailure.client_ip == ip) >= (
        limits.per_pair
    ):
        return "account_and_address"
    if _failures(session, since, LoginFailure.client_ip == ip) >= limits.per_address:
        return "address"
    if _failures(session, since, LoginFailure.username == name) >= limits.per_account:
        user_id = session.scalar(select(User.id).where(User.username == username))
        known_since = utcnow() - timedelta(days=limits.known_address_days)
        known = user_id is not None and session.scalar(
            select(AuditEntry.id)
            .where(
                AuditEntry.user_id == user_id,
                AuditEntry.action == "login",
                AuditEntry.client_ip == ip,
                AuditEntry.at >= known_since,
            )
            .limit(1)
        )
        if not known:
            return "account"
    return None


def login_blocked(
    session: Session, username: str, client_ip: str, *, max_failures: int, window_s: int
) -> bool:
    """True when ``username`` from ``client_ip`` has used up its failures."""
    limits = LoginLimits(per_pair=max_failures, window_s=window_s)
    return login_block_reason(session, username, client_ip, limits) is not None


@dataclass(frozen=True)
class LoginCandidate:
    """What a password check needs, read before it (no transaction held)."""

    user_id: int | None
    password_hash: str
    active: bool


def login_candidate(session: Session, username: str) -> LoginCandidate:
    row = session.execute(
        select(User.id, User.password_hash, User.active).where(User.username == username)
    ).first()
    if row is None:
        return LoginCandidate(None, _DUMMY_HASH, False)
    return LoginCandidate(int(row[0]), str(row[1]), bool(row[2]))


def record_login_failure(session: Session, username: str, client_ip: str) -> None:
    session.add(LoginFailure(username=username[:64], client_ip=client_ip[:64], at=utcnow()))


def clear_login_failures(session: Session, username: str, client_ip: str) -> None:
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.username == username[:64], LoginFailure.client_ip == client_ip[:64]
        )
    )


def authenticate(session: Session, username: str, password: str, client_ip: str) -> User | None:
    """The active user with these credentials, recording a failure if none.

    Checks the password inside the caller's session; the HTTP login checks it
    outside any transaction (:func:`login_candidate`) so that a flood of wrong
    passwords never holds the write lock.
    """
    cand = login_candidate(session, username)
    ok = verify_password(cand.password_hash, password)
    if cand.user_id is None or not ok or not cand.active:
        record_login_failure(session, username, client_ip)
        return None
    clear_login_failures(session, username, client_ip)
    return session.get(User, cand.user_id)


def issue_token(session: Session, user: User, ttl_s: int) -> tuple[str, int]:
    """A new bearer token for ``user`` and its lifetime in seconds."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        AccessToken(
            user_id=user.id,
            token_hash=sha256_hex(token),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )
    return token, ttl_s


def issue_api_key(
    session: Session, user: User, label: str = "", *, ttl_days: int = 365
) -> tuple[ApiKey, str]:
    """A new API key for ``user`` and its secret (shown once; only its hash is kept)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiKey(
        user_id=user.id,
        key_hash=sha256_hex(key),
        label=label,
        created_at=now,
        expires_at=now + timedelta(days=ttl_days),
    )
    session.add(row)
    session.flush()
    return row, key


def revoke_tokens(session: Session, user_id: int, *, except_hash: str | None = None) -> int:
    """End every bearer token of a user (password change, disable); keys stay listed."""
    stmt = delete(AccessToken).where(AccessToken.user_id == user_id)
    if except_hash is not None:
        stmt = stmt.where(AccessToken.token_hash != except_hash)
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def user_for_secret(session: Session, secret: str, *, with_expiry: bool = False) -> Any:
    """The active user a bearer token or API key belongs to, if valid now.

    With ``with_expiry`` a pair (user, expiry as a POSIX timestamp; infinity
    for API keys) or None.
    """
    digest = sha256_hex(secret)
    expires = math.inf
    if secret.startswith(API_KEY_PREFIX):
        now = utcnow()
        key_row = session.execute(
            select(ApiKey.user_id, ApiKey.expires_at).where(
                ApiKey.key_hash == digest,
                ApiKey.revoked_at.is_(None),
                (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now),
            )
        ).first()
        user_id = key_row[0] if key_row else None
        if key_row and key_row[1] is not None:
            expires = key_row[1].timestamp()
    else:
        row = session.execute(
            select(AccessToken.user_id, AccessToken.expires_at).where(
                AccessToken.token_hash == digest, AccessToken.expires_at > utcnow()
            )
        ).first()
        user_id = row[0] if row else None
        if row:
            expires = row[1].timestamp()
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    return (user, expires) if with_expiry else user


@dataclass(frozen=True)
class Principal:
    """Who is calling and what they may reach.

    ``beat_ids`` / ``koban_ids`` are ``None`` for the admin (the whole
    prefecture); otherwise the beats and koban in scope: an officer's own
    beat(s), a manager's station's beats.
    """

    user_id: int
    username: str
    role: Role
    officer_id: str | None
    station: str | None
    beat_ids: frozenset[str] | None
    koban_ids: frozenset[str] | None
    client_ip: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def can_beat(self, beat_id: str | None) -> bool:
        if self.beat_ids is None:
            return True
        return beat_id is not None and beat_id in self.beat_ids

    def can_koban(self, koban_id: str | None) -> bool:
        if self.koban_ids is None:
            return True
        return koban_id is not None and koban_id in self.koban_ids

    @property
    def sees_personal(self) -> bool:
        """Personal fields reach the officer of the beat and the station's
        manager only; the prefecture-wide admin runs the system without them."""
        return self.role in (Role.OFFICER, Role.MANAGER)


def current_version(session: Session) -> int | None:
    return session.scalar(select(func.max(BeatVersion.version)))


def principal_for(session: Session, user: User, client_ip: str = "") -> Principal:
    role = Role(user.role)
    beat_ids: frozenset[str] | None = None
    koban_ids: frozenset[str] | None = None
    if role is Role.OFFICER:
        rows = session.execute(
            select(OfficerRow.beat_id, OfficerRow.koban_id).where(
                OfficerRow.officer_id == user.officer_id
            )
        ).all()
        beat_ids = frozenset(b for b, _ in rows if b)
        koban_ids = frozenset(k for _, k in rows if k)
    elif role is Role.MANAGER:
        koban_ids = frozenset(
            session.scalars(select(KobanRow.koban_id).where(KobanRow.station == user.station))
        )
        version = current_version(session)
        beat_ids = frozenset(
            session.scalars(
                select(BeatRow.beat_id).where(
                    BeatRow.version == version, BeatRow.koban_id.in_(koban_ids)
                )
            )
        )
    return Principal(
        user.id, user.username, role, user.officer_id, user.station, beat_ids, koban_ids, client_ip
    )


def filters_in_scope(
    session: Session,
    who: Principal,
    *,
    household_id: str | None = None,
    officer_id: str | None = None,
) -> bool:
    """Whether list filters name a household / officer in the caller's scope.

    A filter outside the scope is refused (403) rather than answered with an
    empty list, and a missing id is refused the same way, so the answer does
    not tell whether it exists.
    """
    from .models import HouseholdRow

    if household_id is not None and who.beat_ids is not None:
        beat = session.scalar(
            select(HouseholdRow.beat_id).where(HouseholdRow.household_id == household_id)
        )
        if beat is None or beat not in who.beat_ids:
            return False
    if officer_id is not None:
        if who.role is Role.OFFICER:
            return officer_id == who.officer_id
        if who.koban_ids is not None:
            koban = session.scalar(
                select(OfficerRow.koban_id).where(OfficerRow.officer_id == officer_id)
            )
            if koban is None or koban not in who.koban_ids:
                return False
    return True
