import torch

from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.rotation import Rotation, RotationConfig, all_rotations


def test_every_image_appears_in_all_four_rotations_really_rotated():
    images = torch.rand(3, 3, 8, 8)
    rotated, labels = all_rotations(images)
    assert rotated.shape == (12, 3, 8, 8) and labels.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    assert torch.equal(rotated[:3], images)
    # 90 degrees counter-clockwise: the top row becomes the left column, read bottom to top
    assert torch.equal(rotated[3][:, :, 0], images[0][:, 0, :].flip(-1))
    assert torch.equal(rotated[6], images[0].flip(-1).flip(-2))
    assert torch.equal(torch.rot90(rotated[9], 1, dims=(-2, -1)), images[0])
    for r in range(1, 4):
        assert not torch.equal(rotated[3 * r], images[0])


def test_rotation_task_loss_and_gradients():
    task = Rotation(Backbone("vgg_small", 3), "rgb", RotationConfig())
    inputs, targets = task.make_batch(torch.rand(2, 3, 16, 16), BatchRandom(0, 0, 2))
    loss = task(inputs, targets)["loss"]
    loss.backward()
    assert abs(loss.item() - torch.log(torch.tensor(4.0)).item()) < 1.0
    assert next(task.backbone.parameters()).grad.abs().sum() > 0
    panels, metrics = task.eval().visualize(torch.rand(2, 3, 16, 16))
    assert len(panels) == 4 and 0.0 <= metrics["heldout_rotation_accuracy"] <= 1.0
