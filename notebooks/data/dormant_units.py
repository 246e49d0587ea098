"""Write breakout_dormant_units.csv: how much of each network's 512-unit layer still takes part.

Every network is probed on the same 1,000 frame stacks, one every 4 steps of the shipped
agent's own games (one environment, epsilon 0.05, no-op starts, seed 1), so those rows differ
only in the weights (``rlbook.dormant``); the earlier agents and every 1,000,000th milestone
are also probed on 1,000 states of their own play, played the same way. The networks: the
milestones of the two runs set as CleanRL sets them, every 250,000 steps; the DQN agents
rlbook shipped before them (book recipe with Adam at epsilon 1.5e-4, Huber loss, Glorot
initialisation and 3-step returns), read from the commits that shipped them; and at step 0
each recipe's network as built. Rows of runs whose folders are not on this machine are kept as
they are. Run from the repository's root:
``.venv/bin/python notebooks/data/dormant_units.py``.
"""

import csv
import json
import subprocess
import tempfile
from pathlib import Path

from breakout_runs import RECIPES, RUN_ROOT
from tqdm.auto import tqdm

from rlbook import dormant, pretrained
from rlbook.checkpoints import read_network
from rlbook.dqn import DQNAgent
from rlbook.runs import RunFolder

RUNS = {run: RECIPES[run] for run in ("breakout-c51", "breakout-cleanrl-dqn")}
# The commits that shipped rlbook's earlier DQN agents (their about.json gives the steps); the
# first one's config also gives the network they all started from (step 0).
EARLIER = ["2df105b", "79cc66f", "6ce5d5a", "247122e", "0b387d2", "9a2eeba"]
EARLIER_LABEL = "rlbook's earlier shipped DQN agents"
TAUS = (0.0, 0.1)
FIELDS = ["run", "label", "agent_steps", "states", "tau", "dormant"]
OUT = Path(__file__).with_name("breakout_dormant_units.csv")
AGENT = "rlbook/agents/breakout"


def rows_of(run: str, label: str, steps: int, agent, own: bool = False) -> list[dict]:
    """The network's dormant fractions on the shared states and, with ``own``, on states of its
    own play too (a weaker agent sees fewer of the later screens the shared states hold)."""
    probes = {"shipped agent's": states}
    if own:
        probes["its own"] = dormant.states_of_play(agent, "Breakout", n=1000, every=4, seed=1)
    rows = []
    for probed, probe in probes.items():
        activity = dormant.unit_activity(agent.online, probe)
        rows += [
            {"run": run, "label": label, "agent_steps": steps, "states": probed, "tau": tau,
             "dormant": round(dormant.dormant_fraction(activity, tau), 4)}
            for tau in TAUS
        ]  # fmt: skip
    return rows


def earlier_agent(commit: str, into: Path):
    for name in ("weights.npz", "config.json", "about.json"):
        shown = subprocess.run(["git", "show", f"{commit}:{AGENT}/{name}"], capture_output=True)
        shown.check_returncode()
        (into / name).write_bytes(shown.stdout)
    return pretrained.load_folder(into), json.loads((into / "about.json").read_text())


shipped = pretrained.load("Breakout")
states = dormant.states_of_play(shipped, "Breakout", n=1000, every=4, seed=1)
kept = [r for r in csv.DictReader(OUT.open())] if OUT.exists() else []
kept = [r for r in kept if r["run"] in RUNS and not (RUN_ROOT / r["run"]).exists()]
rows = []
with tempfile.TemporaryDirectory() as tmp:
    for commit in tqdm(EARLIER, desc="earlier agents"):
        agent, about = earlier_agent(commit, Path(tmp))
        if commit == EARLIER[0]:  # the network those agents started from, seeded as they were
            fresh = DQNAgent(agent.config, agent.obs_shape, agent.n_actions)
            rows += rows_of(f"shipped@{commit}", EARLIER_LABEL, 0, fresh)
        rows += rows_of(f"shipped@{commit}", EARLIER_LABEL, about["agent_steps"], agent, own=True)
for run, label in RUNS.items():
    folder = RunFolder(RUN_ROOT / run)
    if not folder.path.exists():
        continue
    agent = DQNAgent(folder.load_config().for_acting(), shipped.obs_shape, shipped.n_actions)
    reached = folder.read_progress()["step"]
    rows += rows_of(run, label, 0, agent)  # as built: the run's seed gives its first weights
    for step in tqdm(range(250_000, reached + 1, 250_000), desc=run):
        read_network(agent, folder.milestone(step), agent.config.game)
        rows += rows_of(run, label, step, agent, own=step % 1_000_000 == 0)
# one order whatever was kept, so that each label keeps its colour in the figure
order = [EARLIER_LABEL, *RUNS.values()]
rows = sorted(kept + rows, key=lambda r: order.index(r["label"]))  # a stable sort keeps steps
with OUT.open("w", newline="") as f:
    writer = csv.DictWriter(f, FIELDS)
    writer.writeheader()
    writer.writerows(rows)
print(f"{len(rows)} rows in {OUT}")
