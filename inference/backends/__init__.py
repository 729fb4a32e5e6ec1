"""veritee model backends: local, openai (upstream), vllm (in-process)."""
