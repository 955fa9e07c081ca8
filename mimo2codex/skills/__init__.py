"""The helper tools of the installed package and the skill that teaches agents to use them.

Commands (registered in :mod:`.commands`): ``ocr`` and ``chat`` (a vision or chat model, through
the gateway or ``--direct``), ``image`` (the :mod:`.engines`), ``pet`` (a Codex pet,
:mod:`.petsheet` + :mod:`.petdraw`), ``skill`` (:mod:`.installer`). ``data/`` holds SKILL.md and
its references, shipped as package data. Failures and exit codes: :mod:`.failure`.
"""
