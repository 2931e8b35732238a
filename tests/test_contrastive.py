import math

import torch
import torch.nn.functional as F

from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.contrastive import Contrastive, ContrastiveConfig, nt_xent, partner_retrieval


def test_nt_xent_matches_its_definition():
    torch.manual_seed(0)
    z = torch.randn(6, 4)
    temperature = 0.5
    unit = F.normalize(z, dim=1)
    expected = 0.0
    for i in range(6):
        partner = (i + 3) % 6
        logits = [float(unit[i] @ unit[j]) / temperature for j in range(6) if j != i]
        expected += -(float(unit[i] @ unit[partner]) / temperature - math.log(sum(math.exp(v) for v in logits)))
    assert math.isclose(nt_xent(z, temperature).item(), expected / 6, rel_tol=1e-5)


def test_views_of_one_image_close_together_give_a_low_loss_and_perfect_retrieval():
    torch.manual_seed(0)
    anchors = torch.randn(8, 16)
    pairs = torch.cat([anchors, anchors + 0.01 * torch.randn(8, 16)])
    assert partner_retrieval(pairs).all()
    assert nt_xent(pairs, 0.1) < nt_xent(torch.randn(16, 16), 0.1)


def test_views_differ_repeat_with_the_step_seed_and_keep_the_input_channels():
    for kind, channels in (("intensity", 1), ("rgb", 3)):
        task = Contrastive(Backbone("vgg_small", channels), kind, ContrastiveConfig(projection_width=16))
        images = torch.rand(4, 3, 24, 24)
        first, _ = task.make_batch(images, BatchRandom(3, 7, 4))
        again, _ = task.make_batch(images, BatchRandom(3, 7, 4))
        other, _ = task.make_batch(images, BatchRandom(3, 8, 4))
        assert first.shape == (8, channels, 24, 24) and first.min() >= -1.0 and first.max() <= 1.0
        torch.testing.assert_close(first, again)
        assert not torch.equal(first, other) and not torch.equal(first[:4], first[4:])


def _nt_xent_on_rank(rank, world, store, full, temperature, out):
    """One of ``world`` gloo processes: NT-Xent of its share of the global batch's views, gathered across ranks."""
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    images = full.shape[0] // 2
    own = torch.arange(rank, images, world)  # a rank's images are every world-th of the global batch (BatchRandom)
    local = torch.cat([full[own], full[images + own]]).clone().requires_grad_(True)
    loss = nt_xent(local, temperature, across_ranks=True)
    loss.backward()
    torch.save({"loss": loss.detach(), "grad": local.grad, "rows": torch.cat([own, own + images])}, out / f"rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_nt_xent_over_two_processes_is_the_one_process_loss_and_gradient(tmp_path):
    torch.manual_seed(0)
    full, temperature = torch.randn(12, 8), 0.3  # 6 images, two views each
    torch.multiprocessing.spawn(_nt_xent_on_rank, args=(2, tmp_path / "store", full, temperature, tmp_path), nprocs=2)
    reference = full.clone().requires_grad_(True)
    expected = nt_xent(reference, temperature)
    expected.backward()
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2)]
    assert math.isclose(torch.stack([r["loss"] for r in ranks]).mean().item(), expected.item(), rel_tol=1e-5)
    for r in ranks:  # each rank's gradient, averaged over the 2 ranks as DDP does, is the one-process gradient
        torch.testing.assert_close(r["grad"] / 2, reference.grad[r["rows"]])
