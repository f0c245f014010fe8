"""Tests for scratchnn.callbacks: hooks, History, EarlyStopping, ModelCheckpoint, LR callbacks,
TerminateOnNaN, CSVLogger, LambdaCallback."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

import scratchnn
from scratchnn import Sequential, callbacks, optimizers
from scratchnn.callbacks import (
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from scratchnn.layers import Dense


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(120, 3))
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)


def model(seed: int = 0, lr: float = 0.01) -> Sequential:
    m = Sequential(
        [Dense(4, activation="tanh", input_dim=3), Dense(1, activation="sigmoid")], seed=seed
    )
    m.compile(
        optimizer=optimizers.Adam(learning_rate=lr),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return m


def inject(key: str, values: list[float]) -> LambdaCallback:
    """Write values[epoch] into the logs as ``key`` (placed before the callback under test)."""
    return LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update({key: values[epoch]}))


class Snapshots(callbacks.Callback):
    """The weights at the end of every epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: list[list[np.ndarray]] = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def assert_weights_equal(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)


# --- hooks ------------------------------------------------------------------------------------


def test_hooks_are_called_in_order_with_logs():
    events = []

    class Recorder(callbacks.Callback):
        def on_train_begin(self, logs=None):
            events.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            events.append(f"epoch_begin {epoch}")

        def on_train_batch_end(self, batch, logs=None):
            events.append(f"batch_end {batch} {sorted(logs)}")

        def on_test_begin(self, logs=None):
            events.append("test_begin")

        def on_epoch_end(self, epoch, logs=None):
            events.append(f"epoch_end {epoch} {sorted(logs)}")

        def on_train_end(self, logs=None):
            events.append("train_end")

    x, y = data()
    recorder = Recorder()
    model(0).fit(
        x, y, epochs=2, batch_size=60, validation_split=0.5, callbacks=[recorder], verbose=0
    )
    keys = "['accuracy', 'loss', 'val_accuracy', 'val_loss']"
    assert events == [
        "train_begin",
        "epoch_begin 0",
        "batch_end 0 ['loss', 'size']",
        "test_begin",
        f"epoch_end 0 {keys}",
        "epoch_begin 1",
        "batch_end 0 ['loss', 'size']",
        "test_begin",
        f"epoch_end 1 {keys}",
        "train_end",
    ]
    assert recorder.params == {"epochs": 2, "steps": 1, "verbose": 0}


def test_stop_training_from_a_batch_hook_ends_the_epoch():
    x, y = data()
    m = model()

    def stop(batch, logs):
        if batch == 2:
            m.stop_training = True

    history = m.fit(
        x,
        y,
        epochs=5,
        batch_size=10,
        verbose=0,
        callbacks=[LambdaCallback(on_train_batch_end=stop)],
    )
    assert history.epoch == [0]
    assert m.optimizer.iterations == 3


# --- EarlyStopping ----------------------------------------------------------------------------


@pytest.mark.parametrize("patience", [1, 10])
def test_early_stopping_restores_the_best_weights_whether_or_not_patience_ran_out(patience):
    x, y = data()
    m = model()
    snaps = Snapshots()
    scores = [3.0, 1.0, 2.0, 2.5, 2.8, 2.9]  # best at epoch 1
    stop = EarlyStopping(monitor="score", patience=patience, restore_best_weights=True)
    history = m.fit(
        x, y, epochs=len(scores), verbose=0, callbacks=[inject("score", scores), snaps, stop]
    )
    ran = len(history.epoch)
    assert ran == (3 if patience == 1 else len(scores))
    assert stop.stopped_epoch == (2 if patience == 1 else 0)
    assert stop.best == 1.0 and stop.best_epoch == 1
    assert_weights_equal(m.get_weights(), snaps.weights[1])
    assert not np.array_equal(snaps.weights[1][0], snaps.weights[-1][0])


def test_early_stopping_without_restore_keeps_the_last_weights():
    x, y = data()
    m = model()
    snaps = Snapshots()
    m.fit(
        x,
        y,
        epochs=4,
        verbose=0,
        callbacks=[
            inject("score", [1.0, 2.0, 3.0, 4.0]),
            snaps,
            EarlyStopping(monitor="score", patience=2),
        ],
    )
    assert_weights_equal(m.get_weights(), snaps.weights[-1])
    assert len(snaps.weights) == 3


def test_early_stopping_modes_min_delta_and_baseline():
    x, y = data()
    accuracy_like = EarlyStopping(monitor="val_accuracy", patience=0)
    history = model().fit(
        x,
        y,
        epochs=5,
        verbose=0,
        callbacks=[inject("val_accuracy", [0.5, 0.6, 0.55, 0.7, 0.8]), accuracy_like],
    )
    assert history.epoch == [0, 1, 2]  # auto mode maximises accuracy
    small_gains = EarlyStopping(monitor="score", min_delta=0.1, patience=0)
    history = model().fit(
        x,
        y,
        epochs=5,
        verbose=0,
        callbacks=[inject("score", [1.0, 0.95, 0.5, 0.4, 0.3]), small_gains],
    )
    assert history.epoch == [0, 1]  # 0.05 is not an improvement with min_delta=0.1
    # improvements that do not beat the baseline do not reset the patience counter (as Keras)
    scores = [1.0, 0.9, 0.95, 0.97, 0.99, 0.99]
    for baseline, epochs_run in ((0.1, [0, 1, 2]), (None, [0, 1, 2, 3])):
        stop = EarlyStopping(monitor="score", patience=2, baseline=baseline)
        history = model().fit(x, y, epochs=6, verbose=0, callbacks=[inject("score", scores), stop])
        assert history.epoch == epochs_run
    warm = EarlyStopping(monitor="score", patience=0, start_from_epoch=3)
    history = model().fit(
        x, y, epochs=6, verbose=0, callbacks=[inject("score", [1, 2, 3, 4, 5, 6]), warm]
    )
    assert history.epoch == [0, 1, 2, 3, 4]


def test_unknown_monitor_warns_with_the_available_keys():
    x, y = data()
    with pytest.warns(RuntimeWarning, match=r"'val_los'.*available keys: accuracy, loss"):
        history = model().fit(
            x, y, epochs=2, verbose=0, callbacks=[EarlyStopping(monitor="val_los")]
        )
    assert history.epoch == [0, 1]


def test_early_stopping_rejects_bad_arguments():
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="largest")


# --- ModelCheckpoint --------------------------------------------------------------------------


def test_model_checkpoint_save_best_only_keeps_the_best_model_file(tmp_path):
    x, y = data()
    m = model()
    snaps = Snapshots()
    path = tmp_path / "best.snn"
    scores = [3.0, 1.0, 2.0, 0.5, 4.0]  # best at epoch 3, saved at epochs 0, 1, 3
    saves = []
    ckpt = ModelCheckpoint(path, monitor="score", save_best_only=True)
    original_save = m.save
    m.save = lambda p, **kw: (saves.append(p), original_save(p, **kw))
    m.fit(x, y, epochs=len(scores), verbose=0, callbacks=[inject("score", scores), snaps, ckpt])
    assert saves == [str(path)] * 3
    best = scratchnn.load_model(path)
    assert_weights_equal(best.get_weights(), snaps.weights[3])
    assert best.optimizer is not None


def test_model_checkpoint_formats_the_file_name_and_saves_weights_only(tmp_path):
    x, y = data()
    m = model()
    pattern = str(tmp_path / "w-{epoch:02d}-{val_loss:.2f}.snn")
    m.fit(
        x,
        y,
        epochs=2,
        validation_split=0.25,
        verbose=0,
        callbacks=[ModelCheckpoint(pattern, save_weights_only=True)],
    )
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and files[0].startswith("w-01-") and files[1].startswith("w-02-")
    fresh = Sequential.from_config(m.get_config())
    fresh.load_weights(tmp_path / files[1])
    assert_weights_equal(fresh.get_weights(), m.get_weights())
    with pytest.raises(ValueError, match="not logged"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "{nope}.snn"))])


# --- learning rate ----------------------------------------------------------------------------


def test_learning_rate_scheduler_sets_and_logs_the_rate():
    x, y = data()
    m = model(lr=0.1)
    seen = []

    class Watch(callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(self.model.optimizer.learning_rate)

    history = m.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.5), Watch()],
    )
    assert seen == pytest.approx([0.05, 0.025, 0.0125])
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])
    one_arg = LearningRateScheduler(lambda epoch: 0.001 * (epoch + 1))
    m.fit(x, y, epochs=2, verbose=0, callbacks=[one_arg])
    assert m.optimizer.learning_rate == pytest.approx(0.002)


def test_learning_rate_scheduler_refuses_a_schedule_optimizer():
    x, y = data()
    m = model()
    m.compile(
        optimizer=optimizers.SGD(learning_rate=optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)),
        loss="binary_crossentropy",
    )
    with pytest.raises(ValueError, match="schedule"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: lr)])


def test_reduce_lr_on_plateau():
    x, y = data()
    m = model(lr=0.1)
    scores = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    plateau = ReduceLROnPlateau(monitor="score", factor=0.5, patience=2, cooldown=1, min_lr=0.03)
    history = m.fit(
        x, y, epochs=len(scores), verbose=0, callbacks=[inject("score", scores), plateau]
    )
    # the logged rate is the one used in the epoch: reduced at the end of epoch 3 (two epochs
    # without improvement), then, after one epoch of cooldown, at the end of epoch 5 down to the
    # floor min_lr=0.03
    assert history.history["learning_rate"] == pytest.approx(
        [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.03, 0.03]
    )
    assert m.optimizer.learning_rate == pytest.approx(0.03)
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


# --- utilities --------------------------------------------------------------------------------


def test_terminate_on_nan(capsys):
    x, y = data()
    m = model()
    values = iter([1.0, math.nan])

    def fake_loss(batch, logs):
        logs["loss"] = next(values, 1.0)

    m.fit(
        x,
        y,
        epochs=3,
        batch_size=40,
        verbose=0,
        callbacks=[LambdaCallback(on_train_batch_end=fake_loss), TerminateOnNaN()],
    )
    assert m.optimizer.iterations == 2
    assert "invalid loss" in capsys.readouterr().out


def test_csv_logger_writes_complete_rows_and_appends(tmp_path):
    x, y = data()
    path = tmp_path / "log.csv"
    m = model()
    m.fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[CSVLogger(path)])
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    assert float(rows[3][2]) == pytest.approx(m.history.history["loss"][2])
    assert path.read_text().endswith("\n")
    m.fit(
        x,
        y,
        epochs=2,
        validation_split=0.25,
        verbose=0,
        callbacks=[CSVLogger(path, separator=";", append=True)],
    )
    lines = path.read_text().splitlines()
    assert len(lines) == 6 and lines[4].startswith("0;")


def test_csv_logger_rows_are_on_disk_before_training_ends(tmp_path):
    x, y = data()
    path = tmp_path / "log.csv"
    seen = []
    m = model()
    m.fit(
        x,
        y,
        epochs=2,
        verbose=0,
        callbacks=[
            CSVLogger(path),
            LambdaCallback(on_epoch_end=lambda e, logs: seen.append(path.read_text())),
        ],
    )
    assert seen[0].count("\n") == 2 and seen[1].count("\n") == 3


def test_lambda_callback_and_unknown_hooks():
    x, y = data()
    calls = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: calls.append("begin"),
        on_epoch_end=lambda epoch, logs: calls.append(epoch),
        on_train_end=lambda logs: calls.append("end"),
    )
    model().fit(x, y, epochs=2, verbose=0, callbacks=[cb])
    assert calls == ["begin", 0, 1, "end"]
    with pytest.raises(ValueError, match="unknown hook"):
        LambdaCallback(on_batch_finish=print)


def test_history_records_every_logged_key():
    history = callbacks.History()
    history.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0})
    history.on_epoch_end(1, {"loss": 0.5, "val_loss": 1.5})
    assert history.history == {"loss": [1.0, 0.5], "val_loss": [2.0, 1.5]}
    assert history.epoch == [0, 1]
