/** Fills the krew manifest template (krew/pullguard.yaml.template); every placeholder must be replaced. */
export function renderKrewManifest(template: string, values: { version: string; uri: string; sha256: string }): string {
  if (!/^[0-9a-f]{64}$/.test(values.sha256)) throw new Error(`sha256 must be 64 hex digits, got ${values.sha256}`);
  const rendered = template.replaceAll('@VERSION@', values.version).replaceAll('@URI@', values.uri).replaceAll('@SHA256@', values.sha256);
  const left = /@[A-Z0-9]+@/.exec(rendered);
  if (left !== null) throw new Error(`the krew template has a placeholder nothing fills: ${left[0]}`);
  return rendered;
}
