"""The PyTorch side of the frontend (the `frontend` extra): a small LLaMA-style model, its data and training,
LoRA, sensitivity measurements, adaptive layer tuning with exits and voting, and trace export."""
