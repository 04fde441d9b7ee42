"""The synthetic data set of a fictional municipality («Eksempel kommune»).

:func:`generate` builds all six tables of a :class:`kor.frames.Dataset` from a seed,
without I/O: three teams, their staff, clients, episodes, sessions and ORS/SRS
measurements (or the child, young-child and group variants). Every person is
invented; client codes are pseudonyms ``K00001``, never national ids. The same
arguments always give identical frames, so tests, documentation examples and the
committed set in ``data/sample/`` (written by :func:`write_sample`, the ``kor
sample`` command) are reproducible.

The data are meant to *look* like routine KOR data, so that every screen and
indicator has something to show, not to estimate anything:

* ORS intake is in the clinical range (adults about 19 ± 7 against the cut-off 25;
  children's CORS about 24 ± 6 against 32), as in the clinical samples of Miller SD,
  Duncan BL, Brown J et al. J Brief Ther 2003;2(2):91-100.
* Episodes follow one of four trajectory types (:data:`TRAJECTORIES`): improvers
  (log-shaped gain towards about 30, most of it in the first sessions, the
  dose-response shape of Howard KI et al. Am Psychol 1986;41(2):159-164,
  doi:10.1037/0003-066X.41.2.159), flat non-improvers, deteriorators (a drop of
  5-10 points; about 5-10 % of clients deteriorate in routine care, Lambert MJ,
  Psychotherapy 2013;50(1):42-51, doi:10.1037/a0030682) and early dropouts (about
  one in five adult clients drop out, Swift JK, Greenberg RP. J Consult Clin
  Psychol 2012;80(4):547-559, doi:10.1037/a0028226).
* Session-to-session measurement noise has SD 1.8 points, so that the reliable
  change of 5 points is about 1.96·√2·SEM, as Jacobson & Truax define it (J Consult
  Clin Psychol 1991;59(1):12-19, doi:10.1037/0022-006X.59.1.12).
* SRS totals sit near the ceiling (36-40) with occasional dips, more often in
  episodes that do not improve.
* Clinicians differ a little in their clients' gains (a therapist effect) and in
  how often they leave ORS/SRS unrecorded; recording gets better over the period
  (about 9 % of sessions miss ORS or SRS at the start, about 5 % at the end), so
  completeness indicators and run charts have a real signal.
* RUS runs two weekly group programmes (Tuesday and Thursday); their participants
  have an individual first session and then mostly group sessions with GSRS.

All the numbers above are design choices of the generator (module constants),
not fitted values.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from kor import measures
from kor.errors import OutOfRangeError
from kor.frames import TABLE_COLUMNS, Dataset

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_END",
    "TEAMS",
    "STAFF",
    "TRAJECTORIES",
    "END_REASONS",
    "generate",
    "write_sample",
]

DEFAULT_SEED = 20261123
DEFAULT_END = date(2026, 10, 31)

#: Team code, name, share of the clients.
TEAMS: tuple[tuple[str, str, float], ...] = (
    ("VOP", "Voksne psykisk helse", 0.45),
    ("RUS", "Rus og avhengighet", 0.30),
    ("BUP", "Barn og unge", 0.25),
)

#: Fictional staff: username, display name, role, team code (None = no team).
#: Clinicians come first (their order is their caseload weight order within the team).
STAFF: tuple[tuple[str, str, str, str | None], ...] = (
    ("ingrid.berg", "Ingrid Berg", "clinician", "VOP"),
    ("sindre.aasen", "Sindre Aasen", "clinician", "VOP"),
    ("marte.solvik", "Marte Solvik", "clinician", "VOP"),
    ("eirik.fjellheim", "Eirik Fjellheim", "clinician", "VOP"),
    ("hanne.brekkesto", "Hanne Brekkestø", "clinician", "VOP"),
    ("tone.myrvold", "Tone Myrvold", "clinician", "RUS"),
    ("anders.kvamme", "Anders Kvamme", "clinician", "RUS"),
    ("silje.rorvik", "Silje Rørvik", "clinician", "RUS"),
    ("bjorn.tveiten", "Bjørn Tveiten", "clinician", "RUS"),
    ("kari.lundeby", "Kari Lundeby", "clinician", "BUP"),
    ("ole.hovde", "Ole Hovde", "clinician", "BUP"),
    ("nora.strand", "Nora Strand", "clinician", "BUP"),
    ("guro.nesheim", "Guro Nesheim", "team_lead", "VOP"),
    ("per.ulvestad", "Per Ulvestad", "team_lead", "RUS"),
    ("liv.kleppe", "Liv Kleppe", "team_lead", "BUP"),
    ("randi.saether", "Randi Sæther", "quality_lead", None),
    ("hakon.vik", "Håkon Vik", "researcher", None),
    ("terje.moen", "Terje Moen", "admin", None),
)

#: Trajectory types of an episode and their shares in first episodes.
TRAJECTORIES: dict[str, float] = {
    "improver": 0.50,
    "flat": 0.27,
    "deteriorator": 0.08,
    "dropout": 0.15,
}
#: Shares in a later (second) episode: fewer improvers.
_TRAJECTORIES_AGAIN = (0.40, 0.35, 0.10, 0.15)

END_REASONS: tuple[str, ...] = ("completed", "dropout", "referred", "moved", "other")
#: End reason of a finished episode per trajectory type (rows follow TRAJECTORIES).
_END_REASON_P = np.array(
    [
        [0.85, 0.03, 0.05, 0.04, 0.03],  # improver
        [0.62, 0.13, 0.15, 0.05, 0.05],  # flat
        [0.40, 0.20, 0.30, 0.05, 0.05],  # deteriorator
        [0.00, 1.00, 0.00, 0.00, 0.00],  # dropout
    ]
)

# Age groups in the order of kor.measures.AGE_GROUPS.
_AGE_GROUPS = measures.AGE_GROUPS
# ORS-family intake mean / SD and the improvers' target mean per age group.
_INTAKE_MEAN = np.array([27.0, 24.0, 20.0, 19.0])
_INTAKE_SD = np.array([6.0, 6.0, 7.0, 7.0])
_TARGET_MEAN = np.array([35.0, 35.0, 31.0, 30.0])
for _table in (_END_REASON_P, _INTAKE_MEAN, _INTAKE_SD, _TARGET_MEAN):
    _table.flags.writeable = False
_NOISE_SD = 1.8  # session-to-session noise of the total, points
_GROUP_WEEKDAYS = (1, 3)  # Tuesday, Thursday (Monday = 0)
_GROUP_HOURS = (12, 14)
_GROUP_SHARE = 0.40  # of RUS episodes that join a group programme
_SECOND_EPISODE_P = 0.16  # tried; fewer survive (first must end, same age group, before end)
_MISSING_P = 0.034  # base chance that ORS (and, separately, SRS) is not recorded


def generate(
    clients: int = 400,
    *,
    seed: int = DEFAULT_SEED,
    end: date = DEFAULT_END,
    years: float = 2.0,
) -> Dataset:
    """Generate the tables of a fictional municipality's KOR data.

    Parameters
    ----------
    clients : int
        Number of clients (each has one episode, about 10 % a second one).
    seed : int
        Seed of the random generator; the same arguments give identical frames.
    end : datetime.date
        Last day of the data. Episodes whose closing would fall after it are open
        (``end_date`` NaT, ``end_reason`` None) and keep the sessions up to ``end``.
    years : float
        Length of the period in which episodes start, ending at ``end``.

    Returns
    -------
    Dataset
        ``teams``, ``users``, ``clients``, ``episodes``, ``sessions`` and
        ``measurements`` with the columns of :data:`kor.frames.TABLE_COLUMNS`;
        integer ids from 1, dates datetime64, ``team_id``/``birth_year`` Int64.
        About 8 sessions per client; sessions are ordered by episode and number.

    Notes
    -----
    The shapes and shares are described in the module docstring. The age group of
    a client is fixed at the first episode's start (:func:`kor.measures.age_group_for`);
    a second episode is only made if the client is still in the same age group.

    Examples
    --------
    >>> ds = generate(50, seed=1)
    >>> ds.clients["code"].iloc[0], len(ds.teams)
    ('K00001', 3)
    """
    if not 1 <= int(clients) <= 10_000_000:
        raise OutOfRangeError("error.out_of_range", field="clients", low=1, high=10_000_000)
    if not 0.1 <= float(years) <= 50:
        raise OutOfRangeError("error.out_of_range", field="years", low=0.1, high=50)
    n_clients = int(clients)
    rng = np.random.default_rng(seed)
    end_day = int(np.datetime64(end, "D").astype(np.int64))
    span = max(int(round(float(years) * 365.25)), 7)
    first_day = end_day - span + 1

    teams, users, clin_team, clin_user_id = _staff_tables()
    n_teams = len(TEAMS)
    n_clin = len(clin_team)
    # Clinician traits: caseload weight, effect on gains (points), recording habit.
    clin_weight = rng.uniform(0.7, 1.3, n_clin)
    clin_effect = rng.normal(0.0, 1.5, n_clin)
    clin_missing = _MISSING_P * rng.lognormal(0.0, 0.45, n_clin)

    # --- clients ---------------------------------------------------------------
    team = rng.choice(n_teams, size=n_clients, p=[share for *_, share in TEAMS])
    start1 = np.sort(_intake_days(rng, n_clients, first_day, end_day))
    age = _ages(rng, team)
    start_year = _year_of(start1)
    birth_year = start_year - age
    age_group = _age_group_index(age)

    # --- first episodes ----------------------------------------------------------
    traj1 = _draw_trajectory(rng, n_clients, np.array(list(TRAJECTORIES.values())))
    clin1 = _assign_clinician(rng, team, clin_team, clin_weight)
    ep1 = _simulate_episodes(
        rng,
        client=np.arange(n_clients),
        team=team,
        age_group=age_group,
        start=start1,
        clinician=clin1,
        trajectory=traj1,
        clin_effect=clin_effect,
    )

    # --- second episodes -----------------------------------------------------------
    finished = ep1["end_day"] <= end_day
    gap = rng.integers(45, 400, n_clients)
    start2 = _weekday_on_or_before(ep1["end_day"] + gap)
    again = (
        finished
        & (rng.random(n_clients) < _SECOND_EPISODE_P)
        & (start2 <= end_day)
        & (_age_group_index(_year_of(start2) - birth_year) == age_group)
    )
    who = np.flatnonzero(again)
    same_clinician = rng.random(who.size) < 0.5
    other = _assign_clinician(rng, team[who], clin_team, clin_weight)
    clin2 = np.where(same_clinician, clin1[who], other)
    traj2 = _draw_trajectory(rng, who.size, np.array(_TRAJECTORIES_AGAIN))
    ep2 = _simulate_episodes(
        rng,
        client=who,
        team=team[who],
        age_group=age_group[who],
        start=start2[who],
        clinician=clin2,
        trajectory=traj2,
        clin_effect=clin_effect,
    )

    episodes = {k: np.concatenate([ep1[k], ep2[k]]) for k in ep1 if not k.startswith("s_")}
    sess = {k: np.concatenate([ep1[k], ep2[k]], axis=0) for k in ep1 if k.startswith("s_")}
    sess["s_episode"] = np.concatenate([ep1["s_episode"], ep2["s_episode"] + len(ep1["client"])])
    del ep1, ep2  # the session arrays are large; keep one copy only

    return _assemble(
        rng,
        episodes=episodes,
        sess=sess,
        teams=teams,
        users=users,
        clin_user_id=clin_user_id,
        clin_missing=clin_missing,
        client_team=team,
        birth_year=birth_year,
        age_group=age_group,
        end_day=end_day,
        first_day=first_day,
    )


def write_sample(
    directory: str | Path = "data/sample",
    clients: int = 400,
    seed: int = DEFAULT_SEED,
    *,
    end: date = DEFAULT_END,
    years: float = 2.0,
) -> list[Path]:
    """Generate the sample and write one CSV per table into ``directory``.

    This is what ``kor sample`` runs; the committed ``data/sample/`` is its output
    with the defaults. Returns the paths written.
    """
    return generate(clients, seed=seed, end=end, years=years).to_csv(directory)


# --- staff ---------------------------------------------------------------------------


def _staff_tables() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Teams and users frames, plus the clinicians' team index and user id."""
    codes = [code for code, _, _ in TEAMS]
    teams = pd.DataFrame(
        {
            "team_id": np.arange(1, len(TEAMS) + 1, dtype=np.int64),
            "code": codes,
            "name": [name for _, name, _ in TEAMS],
        }
    )
    team_id = [None if tc is None else codes.index(tc) + 1 for *_, tc in STAFF]
    users = pd.DataFrame(
        {
            "user_id": np.arange(1, len(STAFF) + 1, dtype=np.int64),
            "username": [s[0] for s in STAFF],
            "display_name": [s[1] for s in STAFF],
            "role": [s[2] for s in STAFF],
            "team_id": pd.array(team_id, dtype="Int64"),
        }
    )
    is_clin = np.array([s[2] == "clinician" for s in STAFF])
    clin_team = np.array([codes.index(s[3]) for s in STAFF if s[2] == "clinician"])
    clin_user_id = np.flatnonzero(is_clin) + 1
    return teams, users, clin_team, clin_user_id


def _assign_clinician(
    rng: np.random.Generator, team: np.ndarray, clin_team: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """Clinician index (into the clinician list) from the client's team, by caseload weight."""
    out = np.empty(team.size, dtype=np.int64)
    for t in np.unique(team):
        members = np.flatnonzero(clin_team == t)
        mask = team == t
        p = weight[members] / weight[members].sum()
        out[mask] = rng.choice(members, size=int(mask.sum()), p=p)
    return out


# --- clients -------------------------------------------------------------------------


def _intake_days(rng: np.random.Generator, n: int, first_day: int, end_day: int) -> np.ndarray:
    """Intake days (days since 1970-01-01): fewer in July and at Christmas, weekdays only."""
    out = np.empty(0, dtype=np.int64)
    while out.size < n:
        cand = rng.integers(first_day, end_day + 1, size=max(2 * (n - out.size), 64))
        month, dom = _month_day(cand)
        accept = np.where(month == 7, 0.35, 1.0)
        accept = np.where((month == 12) & (dom >= 20), 0.3, accept)
        cand = cand[rng.random(cand.size) < accept]
        out = np.concatenate([out, cand])
    return np.maximum(_weekday_on_or_before(out[:n]), first_day)


def _ages(rng: np.random.Generator, team: np.ndarray) -> np.ndarray:
    """Age in whole years at intake: adults in VOP and RUS, children and youth in BUP."""
    n = team.size
    vop = np.clip(np.round(rng.normal(36.0, 13.0, n)), 18, 80)
    rus = np.clip(np.round(rng.normal(40.0, 12.0, n)), 18, 75)
    band = rng.choice(3, size=n, p=[0.06, 0.42, 0.52])
    bup = np.choose(band, [rng.integers(3, 6, n), rng.integers(6, 13, n), rng.integers(13, 18, n)])
    codes = [code for code, _, _ in TEAMS]
    age = np.where(team == codes.index("VOP"), vop, np.where(team == codes.index("RUS"), rus, bup))
    return age.astype(np.int64)


def _age_group_index(age: np.ndarray) -> np.ndarray:
    """Index into AGE_GROUPS, the same rule as :func:`kor.measures.age_group_for`."""
    return np.select([age < 6, age <= 12, age <= 17], [0, 1, 2], 3)


# --- episodes and sessions -------------------------------------------------------------


def _draw_trajectory(rng: np.random.Generator, n: int, p: np.ndarray) -> np.ndarray:
    return rng.choice(len(p), size=n, p=p / p.sum())


def _planned_sessions(rng: np.random.Generator, trajectory: np.ndarray) -> np.ndarray:
    """Planned number of sessions per episode: 1-4 for dropouts, else 2-20 (median about 8)."""
    n = trajectory.size
    dropout = rng.choice([1, 2, 3, 4], size=n, p=[0.30, 0.30, 0.25, 0.15])
    longer = 2 + rng.negative_binomial(3.0, 3.0 / (3.0 + 7.1), size=n)
    minimum = np.where(trajectory == 2, 4, 2)
    longer = np.clip(longer, minimum, 20)
    return np.where(trajectory == 3, dropout, longer).astype(np.int64)


def _simulate_episodes(
    rng: np.random.Generator,
    *,
    client: np.ndarray,
    team: np.ndarray,
    age_group: np.ndarray,
    start: np.ndarray,
    clinician: np.ndarray,
    trajectory: np.ndarray,
    clin_effect: np.ndarray,
) -> dict[str, np.ndarray]:
    """Plan whole episodes, ignoring the end of the period (cut later).

    Returns per-episode arrays (client, clinician, start_day, end_day, reason, ...)
    and per-session arrays prefixed ``s_`` (episode index, 0-based number, day,
    group flag, outcome items, alliance items).
    """
    n_ep = client.size
    codes = [code for code, _, _ in TEAMS]
    n_sess = _planned_sessions(rng, trajectory)
    group = (team == codes.index("RUS")) & (rng.random(n_ep) < _GROUP_SHARE) & (n_sess >= 2)
    programme = rng.integers(0, len(_GROUP_WEEKDAYS), n_ep)

    total = int(n_sess.sum())
    ep = np.repeat(np.arange(n_ep), n_sess)
    offsets = np.cumsum(n_sess) - n_sess
    k = np.arange(total) - np.repeat(offsets, n_sess)
    g = group[ep]

    # Session dates: individual episodes weekly/biweekly/three-weekly with jitter and
    # holiday gaps, moved off weekends; group participants on their programme's weekday.
    base = rng.choice([7, 14, 21], size=n_ep, p=[0.55, 0.35, 0.10])
    step = base[ep] + rng.integers(-2, 3, total)
    step = step + np.where(rng.random(total) < 0.06, rng.integers(7, 29, total), 0)
    step = np.maximum(step, 3)
    weekday = np.asarray(_GROUP_WEEKDAYS)[programme]
    to_first_group = (weekday - _weekday(start) - 1) % 7 + 1
    group_step = 7 * (1 + (rng.random(total) < 0.12) + (rng.random(total) < 0.03))
    step = np.where(g, np.where(k == 1, to_first_group[ep], group_step), step)
    step[k == 0] = 0
    csum = np.cumsum(step)
    day = start[ep] + csum - csum[offsets][ep]
    day = np.where(g, day, _off_weekend(day))
    is_group = g & (k % 4 != 0)

    # Outcome (ORS family) path.
    ag = age_group[ep]
    intake = rng.normal(_INTAKE_MEAN[age_group], _INTAKE_SD[age_group])
    intake = np.clip(intake, 3.0, 37.0)
    target = rng.normal(_TARGET_MEAN[age_group], 2.5) + clin_effect[clinician]
    gain = np.maximum(np.minimum(target, 38.0) - intake, rng.uniform(1.0, 4.0, n_ep))
    half = rng.uniform(3.0, 8.0, n_ep)  # session by which most of the gain is made
    drift = np.clip(rng.normal(0.5, 1.5, n_ep), -3.0, 3.5)
    drop = rng.uniform(5.5, 10.0, n_ep)
    frac = k / np.maximum(n_sess[ep] - 1, 1)
    tr = trajectory[ep]
    improve = gain[ep] * np.minimum(1.0, np.log1p(k) / np.log1p(half[ep]))
    path = np.select(
        [tr == 0, tr == 1, tr == 2],
        [improve, drift[ep] * frac, -drop[ep] * frac],
        drift[ep] * frac * 0.5,
    )
    outcome_total = np.clip(intake[ep] + path + rng.normal(0.0, _NOISE_SD, total), 0.4, 39.6)
    profile = rng.normal(0.0, 1.1, (n_ep, 4))
    dev = profile[ep] + rng.normal(0.0, 0.6, (total, 4))
    dev -= dev.mean(axis=1, keepdims=True)
    outcome_items = _round_items(outcome_total[:, None] / 4.0 + dev)

    # Alliance (SRS family): near the ceiling, better over the first sessions, dips.
    poor = trajectory != 0
    base_deficit = rng.exponential(np.where(poor, 1.9, 1.2))
    settle = 1.0 - 0.3 * np.minimum(k, 6) / 6.0
    deficit = base_deficit[ep] * settle + rng.normal(0.0, 0.25, total)
    dip_p = np.where(poor[ep], 0.10, 0.045)
    deficit = deficit + np.where(rng.random(total) < dip_p, rng.uniform(1.5, 6.0, total), 0.0)
    deficit = np.maximum(deficit, 0.0)
    weights = rng.gamma(3.0, 1.0, (n_ep, 4))[ep] * rng.uniform(0.7, 1.3, (total, 4))
    weights /= weights.sum(axis=1, keepdims=True)
    alliance_items = _round_items(10.0 - deficit[:, None] * weights)

    last = offsets + n_sess - 1
    lag = np.where(trajectory == 3, rng.integers(14, 61, n_ep), rng.integers(0, 15, n_ep))
    u = rng.random(n_ep)
    cum = np.cumsum(_END_REASON_P, axis=1)[trajectory]
    reason = np.minimum((u[:, None] >= cum).sum(axis=1), len(END_REASONS) - 1)

    return {
        "client": client,
        "clinician": clinician,
        "age_group": age_group,
        "start_day": start,
        "end_day": day[last] + lag,
        "reason": reason,
        "programme": np.where(group, programme, -1),
        "s_episode": ep,
        "s_k": k,
        "s_day": day,
        "s_group": is_group,
        "s_age_group": ag,
        "s_outcome": outcome_items,
        "s_alliance": alliance_items,
    }


def _round_items(items: np.ndarray) -> np.ndarray:
    """Clip to 0-10 and round to one decimal (millimetres on the 10 cm line)."""
    return np.round(np.clip(items, 0.0, 10.0), 1)


def _sum_items(items: np.ndarray) -> np.ndarray:
    """Total as :func:`kor.measures.score` computes it: left-to-right sum, one decimal."""
    return np.round(((items[:, 0] + items[:, 1]) + items[:, 2]) + items[:, 3], 1)


# --- assembly ---------------------------------------------------------------------------


def _assemble(
    rng: np.random.Generator,
    *,
    episodes: dict[str, np.ndarray],
    sess: dict[str, np.ndarray],
    teams: pd.DataFrame,
    users: pd.DataFrame,
    clin_user_id: np.ndarray,
    clin_missing: np.ndarray,
    client_team: np.ndarray,
    birth_year: np.ndarray,
    age_group: np.ndarray,
    end_day: int,
    first_day: int,
) -> Dataset:
    """Cut at the end of the period, number everything and build the frames."""
    # Cut sessions after the end; an episode closing after the end stays open.
    keep = sess["s_day"] <= end_day
    planned, sess = sess, {}
    while planned:  # move array by array, so only one extra copy exists at a time
        name, values = planned.popitem()
        sess[name] = values[keep]
        del values
    n_ep = episodes["client"].size
    n_kept = np.bincount(sess["s_episode"], minlength=n_ep)
    is_open = episodes["end_day"] > end_day

    # Episode ids in order of start (then client); sessions by episode and number.
    order = np.lexsort((episodes["client"], episodes["start_day"]))
    new_id = np.empty(n_ep, dtype=np.int64)
    new_id[order] = np.arange(1, n_ep + 1)
    offsets = np.cumsum(n_kept) - n_kept
    counts = n_kept[order]
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    s_order = np.repeat(offsets[order], counts) + within
    for name in list(sess):
        sess[name] = sess[name][s_order]
    del s_order, keep
    n_s = sess["s_day"].size
    s_ep = sess["s_episode"]

    # Session clinician: the episode's clinician; group sessions: the programme leader.
    codes = [code for code, _, _ in TEAMS]
    rus_clin = np.flatnonzero(_clin_team_of(users, clin_user_id) == codes.index("RUS") + 1)
    leaders = clin_user_id[rus_clin[: len(_GROUP_WEEKDAYS)]]
    ep_clin_user = clin_user_id[episodes["clinician"]]
    prog = episodes["programme"][s_ep]
    s_clin = np.where(sess["s_group"], leaders[np.maximum(prog, 0)], ep_clin_user[s_ep])

    days = pd.to_datetime(np.asarray(sess["s_day"], dtype="datetime64[D]")).as_unit("us")
    fmt = np.where(sess["s_group"], "group", "individual").astype(object)
    sessions = pd.DataFrame(
        {
            "session_id": np.arange(1, n_s + 1, dtype=np.int64),
            "episode_id": new_id[s_ep],
            "number": sess["s_k"].astype(np.int64) + 1,
            "session_date": days,
            "clinician_id": s_clin.astype(np.int64),
            "format": fmt,
        }
    ).reset_index(drop=True)

    # Measurements: outcome at the start, alliance at the end; some not recorded.
    ag = sess["s_age_group"]
    group_i = sess["s_group"].astype(np.int64)
    out_code, all_code = _measure_table()
    when = (sess["s_day"] - first_day) / max(end_day - first_day, 1)
    habit = clin_missing[np.searchsorted(clin_user_id, s_clin)] * (1.35 - 0.7 * when)
    has_out = rng.random(n_s) >= habit
    has_all = rng.random(n_s) >= habit * np.where(sess["s_group"], 1.3, 1.0)
    hour = np.where(
        sess["s_group"],
        np.asarray(_GROUP_HOURS)[np.maximum(prog, 0)],
        rng.integers(8, 16, n_s),
    )
    minute = np.where(sess["s_group"], 0, 15 * rng.integers(0, 4, n_s))
    begin = sess["s_day"].astype(np.int64) * 86_400 + hour * 3600 + minute * 60
    t_out = begin + rng.integers(60, 300, n_s)
    t_all = begin + rng.integers(45 * 60, 55 * 60, n_s)

    present = np.column_stack([has_out, has_all]).ravel()
    items = np.stack([sess.pop("s_outcome"), sess.pop("s_alliance")], axis=1)
    items = items.reshape(-1, 4)[present]
    code = np.column_stack([out_code[ag, group_i], all_code[ag, group_i]]).ravel()[present]
    n_m = int(present.sum())
    measurements = pd.DataFrame(
        {
            "measurement_id": np.arange(1, n_m + 1, dtype=np.int64),
            "session_id": np.repeat(np.arange(1, n_s + 1, dtype=np.int64), 2)[present],
            "measure": code,
            "item1": items[:, 0],
            "item2": items[:, 1],
            "item3": items[:, 2],
            "item4": items[:, 3],
            "total": _sum_items(items),
            "entered_by": np.repeat(s_clin.astype(np.int64), 2)[present],
            "entered_at": pd.to_datetime(
                np.column_stack([t_out, t_all]).ravel()[present].astype("datetime64[s]")
            ).as_unit("us"),
        }
    )

    # Episodes frame.
    e = episodes
    end_dates = e["end_day"].astype("datetime64[D]")
    end_dates[is_open] = np.datetime64("NaT")
    reason = np.array(END_REASONS, dtype=object)[e["reason"]]
    reason[is_open] = None
    ep_frame = pd.DataFrame(
        {
            "episode_id": new_id,
            "client_id": e["client"].astype(np.int64) + 1,
            "clinician_id": ep_clin_user.astype(np.int64),
            "start_date": pd.to_datetime(e["start_day"].astype("datetime64[D]")).as_unit("us"),
            "end_date": pd.to_datetime(end_dates).as_unit("us"),
            "end_reason": pd.Series(reason, dtype=object),
        }
    )
    ep_frame = ep_frame.sort_values("episode_id").reset_index(drop=True)

    n_c = birth_year.size
    client_frame = pd.DataFrame(
        {
            "client_id": np.arange(1, n_c + 1, dtype=np.int64),
            "code": _client_codes(n_c),
            "birth_year": pd.array(birth_year, dtype="Int64"),
            "age_group": np.asarray(_AGE_GROUPS, dtype=object)[age_group],
            "team_id": pd.array(client_team + 1, dtype="Int64"),
        }
    )
    tables = {
        "teams": teams,
        "users": users,
        "clients": client_frame,
        "episodes": ep_frame,
        "sessions": sessions,
        "measurements": measurements,
    }
    return Dataset(
        **{name: tables[name].loc[:, list(cols)] for name, cols in TABLE_COLUMNS.items()}
    )


def _client_codes(n: int) -> list[str]:
    """Pseudonymous codes ``K00001`` ...: a letter, so never 11 digits like a national id."""
    width = max(5, len(str(n)))
    return [f"K{i:0{width}d}" for i in range(1, n + 1)]


def _clin_team_of(users: pd.DataFrame, clin_user_id: np.ndarray) -> np.ndarray:
    """Team id of each clinician (in clinician order)."""
    team = users.set_index("user_id")["team_id"]
    return team.loc[clin_user_id].to_numpy(dtype=np.int64)


def _measure_table() -> tuple[np.ndarray, np.ndarray]:
    """Outcome and alliance measure codes indexed [age group, is_group]."""
    out = np.empty((len(_AGE_GROUPS), 2), dtype=object)
    all_ = np.empty((len(_AGE_GROUPS), 2), dtype=object)
    for i, group in enumerate(_AGE_GROUPS):
        for j, fmt in enumerate(("individual", "group")):
            out[i, j] = measures.measure_for("outcome", group, fmt).code
            all_[i, j] = measures.measure_for("alliance", group, fmt).code
    return out, all_


# --- calendar helpers (days since 1970-01-01, a Thursday) --------------------------------


def _weekday(day: np.ndarray) -> np.ndarray:
    """Monday = 0 ... Sunday = 6."""
    return (np.asarray(day) + 3) % 7


def _off_weekend(day: np.ndarray) -> np.ndarray:
    """Saturday to Friday, Sunday to Monday (moves at most one day)."""
    wd = _weekday(day)
    return day + np.where(wd == 5, -1, 0) + np.where(wd == 6, 1, 0)


def _weekday_on_or_before(day: np.ndarray) -> np.ndarray:
    """Saturday and Sunday to the Friday before."""
    wd = _weekday(day)
    return day - np.where(wd == 5, 1, 0) - np.where(wd == 6, 2, 0)


def _month_day(day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(day, dtype="datetime64[D]")
    month_start = d.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    dom = (d - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    return month, dom


def _year_of(day: np.ndarray) -> np.ndarray:
    return np.asarray(day, dtype="datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
