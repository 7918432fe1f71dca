"""The server door: a jupyter-server extension that brokers every LLM call of
JupyterLab and does the context I/O through the ContentsManager."""
