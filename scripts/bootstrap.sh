#!/usr/bin/env bash
# Install everything calico-fleet needs on a fresh Debian 12 machine, as root:
# the lab's daemons (bird, sshd, etcd, nftables) from apt, without starting any
# of them on this host, and a virtualenv with the pinned Python dependencies.
# Idempotent: a second run only checks and returns in a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(bird openssh-server openssh-client etcd-server etcd-client nftables iproute2 util-linux make openssl)
VENV=.venv
PYTHON=${PYTHON:-python3}

if [[ $EUID -ne 0 ]]; then
  echo "bootstrap: run as root (the lab creates network namespaces and mounts)" >&2
  exit 1
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  # Debian starts services on install; the daemons must only run inside the
  # lab, so forbid service starts for the duration of the install.
  policy=/usr/sbin/policy-rc.d
  created_policy=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=1
  fi
  trap '[[ -n $created_policy ]] && rm -f "$policy"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Belt and braces for systemd hosts: keep the host's own copies disabled.
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now bird bird6 etcd 2>/dev/null || true
  fi
fi

stamp=$VENV/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [[ ! -x $VENV/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "bootstrap: installing Python dependencies into $VENV"
  [[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi
# The lowest ansible-core meta/runtime.yml claims, in a venv of its own, so the
# collection tests can run the installed collection with both ends of the range.
MIN_VENV=.venv-ansible-min
MIN_CORE=$(sed -n 's/^requires_ansible: ">=\([0-9.]*\),.*/\1/p' meta/runtime.yml)
if [[ ! -x $MIN_VENV/bin/ansible-playbook || $($MIN_VENV/bin/ansible --version 2>/dev/null | head -1) != *"core $MIN_CORE"* ]]; then
  echo "bootstrap: installing ansible-core $MIN_CORE into $MIN_VENV"
  rm -rf "$MIN_VENV"
  "$PYTHON" -m venv "$MIN_VENV"
  "$MIN_VENV/bin/pip" install -q --disable-pip-version-check "ansible-core==$MIN_CORE"
fi
echo "bootstrap: ready"
