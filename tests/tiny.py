"""The smallest DQN run that still learns something: Catch, the small network, 4 games."""

TINY = dict(
    game="Catch",
    network="small",
    num_envs=4,
    buffer_size=2000,
    learning_starts=200,
    checkpoint_every=400,
)
