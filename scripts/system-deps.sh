#!/usr/bin/env bash
# System packages and services FallWatch's tests use: ffmpeg (serving a clip as a live stream), Chromium (the
# dashboard's browser test), PostgreSQL and Mosquitto on loopback. Installs only what is missing; needs root
# for apt-get, and says what to do otherwise.
set -euo pipefail

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if ((${#need[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: missing ${need[*]}; install with: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "system-deps: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 5432 && command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "system-deps: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
fi
if ! port_open 1883 && command -v mosquitto >/dev/null 2>&1; then
  echo "system-deps: starting Mosquitto"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf || true
fi
