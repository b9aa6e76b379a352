"""The `tracker` command line: a thin layer over the log, replay and publishing.

Exit codes: 0 success; 1 `verify` found a problem; 2 bad input or usage, or a log not as
the tracker left it; 3 the machine would not let a command complete; 130 stopped.
Data goes to stdout (`--json` prints only JSON); notes and errors go to stderr.

main assembles the command modules (log_commands, kinds, state, publishing), which
share common; typed_input, output, names and faults serve them. Nothing below the
command line imports from here.
"""
