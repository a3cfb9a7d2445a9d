"""The frontend: Edge-LLM policies from measurements, and trace export. Only `edgesim.frontend.torch` needs PyTorch
(the `frontend` extra); the policy formulas here are plain numpy."""
