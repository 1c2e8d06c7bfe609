# bakery's seal script, run once as root by the bakery_seal role after the last role of a bake.
# Prints one line per change, nothing when there is nothing to clean (the task's "changed").
set -eu

# Removes each path that still exists (an earlier match may have taken it along) and says so.
REMOVE='for path; do if [ -e "$path" ] || [ -L "$path" ]; then rm -rf -- "$path" && echo "removed $path"; fi; done'

# First-boot host keys: the unit (copied by the role) is enabled by links, as `systemctl
# enable` makes them, so this works with or without systemd running.
for wants in multi-user.target.wants ssh.service.wants; do
  link="/etc/systemd/system/$wants/bakery-ssh-host-keys.service"
  if [ "$(readlink "$link" 2>/dev/null)" != /etc/systemd/system/bakery-ssh-host-keys.service ]; then
    mkdir -p "/etc/systemd/system/$wants"
    ln -sfn /etc/systemd/system/bakery-ssh-host-keys.service "$link"
    echo "enabled bakery-ssh-host-keys.service for ${wants%.wants}"
  fi
done

# The journal. journald is switched to /run until the next boot first, so it does not
# rotate to a new file when its file is deleted.
if [ -d /var/log ] && [ -n "$(find /var/log -type f \( -name '*.journal' -o -name '*.journal~' \) -print | head -n 1)" ]; then
  journalctl --relinquish-var 2>/dev/null || true
  echo "journald logs to /run until the next boot"
  find /var/log -type f \( -name '*.journal' -o -name '*.journal~' \) -exec sh -c "$REMOVE" sh {} +
fi

# Entries of system directories: what matches, never the ansible_*_payload_* directory the
# module running this script imports from (in /tmp, say), nor the ansible_mitogen_runner_*
# directory of this task under the Mitogen strategy: Ansible (or Mitogen) removes it after the
# task, and complains when it is gone. Mitogen removes those of earlier tasks as each ends.
clean() {  # clean DIR MAXDEPTH-ARGS FIND-TESTS...
  dir=$1; shift
  [ -d "$dir" ] || return 0
  find "$dir" -mindepth 1 "$@" ! -name 'ansible_*_payload_*' ! -name 'ansible_mitogen_runner_*' -prune \
    -exec sh -c "$REMOVE" sh {} +
}
clean /etc/ssh -maxdepth 1 -name 'ssh_host_*'
clean /var/lib/apt/lists -maxdepth 1 ! \( -name lock -o -name partial \)
clean /var/cache/apt -maxdepth 1 -name '*.bin'
clean /var/cache/apt/archives -maxdepth 1 -name '*.deb'
clean /var/cache/debconf -maxdepth 1 -name '*-old'
clean /var/log \( -name '*.gz' -o -name '*.xz' -o -name '*.[0-9]' -o -name '*.old' \)
# systemd-private-*: PrivateTmp of services running now
clean /tmp -maxdepth 1 ! \( -name 'systemd-private-*' -o -name .X11-unix -o -name .ICE-unix -o -name .XIM-unix -o -name .font-unix \)
clean /var/tmp -maxdepth 1 ! -name 'systemd-private-*'

# Histories and caches in /root and every /home/* directory, and the files of earlier tasks in
# their ~/.ansible/tmp. Ansible keeps that directory until the run ends (bakery's Packer
# template removes it after Ansible disconnects). What this task runs from stays: without
# pipelining its own ansible-tmp-* directory (the module, this script's parent, was started
# from it), the ansible_*_payload_* directory the module imports from, and under Mitogen the
# task's ansible_mitogen_runner_* directory.
task_dir=$(tr '\0' '\n' < "/proc/$PPID/cmdline" | sed -n 's|^\(.*/\.ansible/tmp/[^/]*\)/AnsiballZ_[^/]*$|\1|p' | head -n 1)
for home in /root /home/*; do
  [ -d "$home" ] || continue
  find "$home" -mindepth 1 -maxdepth 1 \( -name .bash_history -o -name .zsh_history -o -name .python_history \
    -o -name .lesshst -o -name .viminfo -o -name .mysql_history -o -name .wget-hsts -o -name .cache \
    -o -name .ansible_async \) -prune -exec sh -c "$REMOVE" sh {} +
  if [ -d "$home/.ansible/tmp" ]; then
    find "$home/.ansible/tmp" -mindepth 1 -maxdepth 1 ! -name 'ansible_*_payload_*' ! -name 'ansible_mitogen_runner_*' \
      ! -path "${task_dir:-/nonexistent}" -exec sh -c "$REMOVE" sh {} +
  fi
done

# Single files; 00bakery-bake holds the apt settings of bakery's bases for the bake only.
sh -c "$REMOVE" sh /var/lib/dbus/machine-id /var/lib/systemd/random-seed /etc/apt/apt.conf.d/00bakery-bake

# Other logs are truncated, not deleted: services keep their open files and the files their
# owners. journald owns the journal files (removed above, never truncated).
if [ -d /var/log ]; then
  find /var/log -type f -size +0c ! -name '*.journal' ! -name '*.journal~' \
    -exec sh -c 'for path; do truncate --size=0 -- "$path" && echo "truncated $path"; done' sh {} +
fi

# An empty machine id makes systemd generate a new one at the first boot of each instance.
if [ ! -f /etc/machine-id ] || [ -s /etc/machine-id ] || [ "$(stat -c %a:%U:%G /etc/machine-id)" != "444:root:root" ]; then
  : > /etc/machine-id
  chown root:root /etc/machine-id
  chmod 0444 /etc/machine-id
  echo "emptied /etc/machine-id"
fi
