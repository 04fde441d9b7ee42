"""Fitted models kept in the store: the expected-response model, refitted on a schedule.

The expected path must be fitted on the *service's* completed episodes, which no
clinician may read, so fitting runs as the maintenance actor (:data:`kor.access.SYSTEM`)
when the apps start (:func:`ensure_expected_model`) or on demand (``kor model refit``).
A clinician's app only loads the newest stored model (:func:`load_expected_model`);
before any model is stored it uses the documented rule-based fallback.
"""

from __future__ import annotations

import argparse
import warnings
from datetime import date
from typing import Any

from kor.access import SYSTEM, Actor
from kor.errors import KorStatisticalWarning
from kor.i18n import t
from kor.trajectories import ExpectedResponse, needs_refit

__all__ = ["KIND", "fit_and_store", "ensure_expected_model", "load_expected_model", "register_cli"]

KIND = "expected_response"


def fit_and_store(
    store: Any, *, today: date | None = None, actor: Actor = SYSTEM
) -> ExpectedResponse:
    """Fit the expected-response model on all of the service's data and store it."""
    today = today or date.today()
    sessions = store.session_table(actor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KorStatisticalWarning)
        model = ExpectedResponse().fit(sessions, fitted_on=today)
    store.save_model(
        actor, KIND, model.to_dict(), fitted_on=today, n_episodes=int(model.n_episodes_)
    )
    return model


def ensure_expected_model(
    store: Any, *, today: date | None = None, every_days: int = 30
) -> tuple[ExpectedResponse, bool]:
    """The stored model, refitted first when missing or ``every_days`` old; (model, refitted)."""
    today = today or date.today()
    stored = store.latest_model(SYSTEM, KIND)
    if needs_refit(stored, today, every_days):
        return fit_and_store(store, today=today), True
    return ExpectedResponse.from_dict(stored), False


def load_expected_model(store: Any, actor: Actor) -> ExpectedResponse:
    """The newest stored model, or the rule-based fallback when none is stored yet."""
    stored = store.latest_model(actor, KIND)
    if stored is not None:
        return ExpectedResponse.from_dict(stored)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KorStatisticalWarning)
        return ExpectedResponse().fit(_no_sessions(), fitted_on=date.today())


def _no_sessions() -> Any:
    from kor.frames import _empty_session_table

    return _empty_session_table()


def _cmd_refit(args: argparse.Namespace) -> int:
    from kor.store import Store

    store = Store.open(args.database)
    try:
        model = fit_and_store(store)
    finally:
        store.close()
    print(
        t(
            "model.refitted",
            method=model.method_,
            episodes=model.n_episodes_,
            fitted_on=str(model.fitted_on_),
        )
    )
    return 0


def register_cli(sub: Any) -> None:
    """``kor model refit``."""
    model = sub.add_parser("model", help=t("model.cli.help"), description=t("model.cli.help"))
    msub = model.add_subparsers(dest="model_command", required=True)
    refit = msub.add_parser("refit", help=t("model.cli.refit"), description=t("model.cli.refit"))
    refit.add_argument("--database", default=None, help=t("cli.database"))
    refit.set_defaults(func=_cmd_refit)
