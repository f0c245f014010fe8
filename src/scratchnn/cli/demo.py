"""``scratchnn demo``: tutorial 000's chosen network on make_moons, checked on a fresh draw."""

from __future__ import annotations

import time

import click


@click.command()
@click.option("--samples", type=click.IntRange(min=20), default=2000, show_default=True,
              help="Points of make_moons, split 80/20 into train and dev.")
@click.option("--noise", type=click.FloatRange(min=0), default=0.25, show_default=True,
              help="Noise of the moons.")
@click.option("--hidden", type=click.IntRange(min=1), default=3, show_default=True,
              help="Hidden tanh units.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=0.6,
              show_default=True, help="Learning rate of gradient descent.")
@click.option("--iterations", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Full-batch steps.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of data, weights and split.")
def demo(samples: int, noise: float, hidden: int, lr: float, iterations: int, seed: int) -> None:
    """Train tutorial 000's chosen network (2-3-1, tanh, lr 0.6, 10 000 full-batch steps).

    It learns make_moons(N=2000, noise=0.25), reports train and dev accuracy, then scores a fresh
    draw of N=500 points, the tutorial's final check (it reported 93.6 %).
    """
    from sklearn.datasets import make_moons
    from sklearn.model_selection import train_test_split

    import scratchnn
    from scratchnn import initializers
    from scratchnn.layers import Dense

    x, y = make_moons(n_samples=samples, noise=noise, random_state=seed)
    x_train, x_dev, y_train, y_dev = train_test_split(x, y, test_size=0.2, random_state=seed)
    init = initializers.random_normal(stddev=0.01)  # tutorial 000: randn * 0.01, zero biases
    model = scratchnn.Sequential(
        [
            Dense(hidden, activation="tanh", kernel_initializer=init, input_dim=2),
            Dense(1, activation="sigmoid", kernel_initializer=init),
        ],
        seed=seed,
    )
    model.compile(optimizer=scratchnn.optimizers.SGD(learning_rate=lr),
                  loss="binary_crossentropy", metrics=["accuracy"])
    click.echo(f"Training 2-{hidden}-1 (tanh/sigmoid) on make_moons(N={samples}, noise={noise}): "
               f"{iterations} full-batch steps, lr {lr}")
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=None, epochs=iterations, shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    train_acc = model.evaluate(x_train, y_train, return_dict=True)["accuracy"]
    dev_acc = model.evaluate(x_dev, y_dev, return_dict=True)["accuracy"]
    x_new, y_new = make_moons(n_samples=500, noise=noise, random_state=seed + 1)
    new_acc = model.evaluate(x_new, y_new, return_dict=True)["accuracy"]
    click.echo(f"train accuracy {100 * train_acc:.2f} %   dev accuracy {100 * dev_acc:.2f} %   "
               f"training time {seconds:.2f} s")
    click.echo(f"fresh draw N=500: accuracy {100 * new_acc:.2f} %   (tutorial 000: 93.6 %)")
