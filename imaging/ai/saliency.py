"""Where the model looked: a gradient saliency map of a segmentation bundle's output.

The map is the magnitude of d(foreground score)/d(input) — the foreground probability of the
target label summed over the voxels the model marked — smoothed and scaled to 0..1, on the
series' own grid so it overlays the images exactly. Cheap (one backward pass) compared with
occlusion, which needs a forward pass per occluded patch.
"""

import numpy as np
import torch
from monai.data import MetaTensor
from scipy import ndimage

from .runner import LoadedBundle, _on_source_grid, volume_metatensor
from .volume import Volume


def gradient_saliency(
    bundle: LoadedBundle, volume: Volume, *, label: int, region: np.ndarray | None = None
) -> np.ndarray:
    """A float32 map [slice, row, column] in 0..1. ``region`` (same grid, bool) limits the score
    to those voxels, e.g. the findings of this run; without it the whole volume counts."""
    info = bundle.info
    source = volume_metatensor(volume, with_channel=not bundle.adds_channel)
    data = {info.input_name: source}
    if bundle.preprocessing is not None:
        data = bundle.preprocessing(data)
    image = data[info.input_name]
    x = torch.as_tensor(image).as_subclass(torch.Tensor)[None].float().to(bundle.device)
    x.requires_grad_(True)
    with torch.enable_grad():
        logits = bundle.inferer(x, bundle.network)
        probability = torch.softmax(logits, dim=1)[:, label]
        if region is not None and region.any():
            weight = torch.from_numpy(np.ascontiguousarray(region.transpose(2, 1, 0)))
            if tuple(weight.shape) == tuple(probability.shape[1:]):
                probability = probability * weight.to(probability.device)[None]
        probability.sum().backward()
    gradient = x.grad.detach().abs()[0].sum(dim=0).cpu()  # over input channels: (x, y, z)
    affine = image.affine if isinstance(image, MetaTensor) else source.affine
    on_grid = _on_source_grid(MetaTensor(gradient[None], affine=affine), source, mode="bilinear")
    heat = ndimage.gaussian_filter(on_grid[0].transpose(2, 1, 0).astype(np.float32), sigma=1.0)
    top = float(np.percentile(heat, 99.9)) if heat.any() else 0.0
    if top <= 0:
        return np.zeros(volume.shape, dtype=np.float32)
    return np.clip(heat / top, 0.0, 1.0).astype(np.float32)
