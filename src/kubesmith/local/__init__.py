"""Local nodes: systemd-nspawn system containers on a host bridge."""
