"""The demo AI model: a lung nodule segmentation MONAI bundle trained on synthetic chest CT.

``phantom`` draws the synthetic series, ``train`` trains and packages the bundle, ``evaluate``
runs it the way the inference runner does and measures it. Pure: numpy, pydicom, torch, MONAI.
"""
