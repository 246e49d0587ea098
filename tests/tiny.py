"""The smallest DQN run that still learns something: Catch, the small network, 4 games."""

TINY = dict(
    game="Catch",
    network="small",
    num_envs=4,
    buffer_size=2000,
    learning_starts=200,
    checkpoint_every=400,
)

# A Catch run that learns to near-optimal play in under a minute: the learning tests' recipe.
CATCH_LEARNS = dict(
    game="Catch",
    network="small",
    steps=12_000,
    num_envs=4,
    buffer_size=10_000,
    learning_starts=500,
    train_every=1,
    target_update=500,
    epsilon_decay_steps=4000,
    epsilon_end=0.05,
    adam=True,
    learning_rate=0.001,
    checkpoint_every=10**6,
    seed=0,
)
