#!/usr/bin/env bash
# The SSH-tunnel test starts its own OpenSSH server (/usr/sbin/sshd, Debian's openssh-server) as a bastion.
# Idempotent: nothing to do when it is installed; as root, install it with apt; otherwise say how and fail.
set -euo pipefail

if [ -x /usr/sbin/sshd ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server
    exit 0
fi
echo "ensure_sshd: /usr/sbin/sshd is missing; install it with: sudo apt-get install -y openssh-server" >&2
exit 1
