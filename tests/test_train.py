"""Training: deterministic for a seed, float then QAT, checkpoints that rebuild both models."""

import pytest
import torch
from torch import nn

from asq_hw.data import load_digits
from asq_hw.errors import UserError
from asq_hw.quant import quantizers
from asq_hw.train import TrainConfig, accuracy, load_checkpoint, predict, save_checkpoint, train

TINY = dict(width=4, float_epochs=2, epochs=2, batch_size=128)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def tiny(digits):
    return train(TrainConfig(**TINY), digits, progress=False)


def test_training_learns_and_quantizes(tiny, digits):
    assert tiny.float_acc > 0.5 and tiny.fakequant_acc > 0.5  # 10 classes: chance is 0.1
    assert all(q.enabled for q in quantizers(tiny.qat_model))
    assert not any(q.enabled for q in quantizers(tiny.float_model))
    # The reported accuracy is the fake-quant model's top-1 hit rate on the test split,
    # counted here image by image from its logits.
    with torch.no_grad():
        logits = tiny.qat_model.eval()(digits.x_test)
    hits = sum(int(row.argmax()) == int(t) for row, t in zip(logits, digits.y_test,
                                                             strict=True))
    assert tiny.fakequant_acc == pytest.approx(hits / len(digits.y_test), abs=1e-6)


def test_accuracy_counts_top1_hits_across_batches():
    logits = torch.tensor([[0., 1.], [2., 1.], [0., 3.], [5., 0.], [1., 0.]])
    labels = torch.tensor([1, 0, 0, 0, 1])             # hits: yes, yes, no, yes, no
    model = nn.Identity()
    assert torch.equal(predict(model, logits, batch_size=2), torch.tensor([1, 0, 1, 0, 0]))
    assert accuracy(model, logits, labels) == pytest.approx(3 / 5)


def test_same_seed_same_weights_other_seed_other_weights(tiny, digits):
    again = train(TrainConfig(**TINY), digits, progress=False)
    other = train(TrainConfig(**TINY, seed=1), digits, progress=False)
    sd, sd2, sd3 = (r.qat_model.state_dict() for r in (tiny, again, other))
    assert all(torch.equal(sd[k], sd2[k]) for k in sd)
    assert not all(torch.equal(sd[k], sd3[k]) for k in sd)


def test_train_restores_torch_global_settings(digits):
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    train(TrainConfig(**dict(TINY, float_epochs=0, epochs=0)), digits, progress=False)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == det


def test_checkpoint_round_trip(tiny, digits, tmp_path):
    save_checkpoint(tiny, digits, tmp_path)
    f, q, cfg = load_checkpoint(tmp_path)
    assert cfg == tiny.config
    assert torch.equal(predict(q, digits.x_test), predict(tiny.qat_model, digits.x_test))
    assert torch.equal(predict(f, digits.x_test), predict(tiny.float_model, digits.x_test))


def test_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match=r"checkpoint.safetensors: missing"):
        load_checkpoint(tmp_path)
    (tmp_path / "checkpoint.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
    with pytest.raises(UserError, match=r"checkpoint.safetensors: not a safetensors"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("field,value,msg", [
    ("wbits", 7, r"^wbits must be an integer from 2 to 6, not 7$"),
    ("abits", 1, r"^abits must be an integer from 2 to 8, not 1$"),
    ("weight_quant", "fp4", r"^weight_quant must be one of post, pot, int, not 'fp4'$"),
    ("dataset", "mnist", r"^dataset must be one of digits, cifar10, not 'mnist'$"),
    ("epochs", -1, r"^epochs must be an integer from 0 to 10000, not -1$"),
    ("lr", 0.0, r"^lr must be a positive number, not 0.0$"),
])
def test_train_config_messages(field, value, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**{field: value})
