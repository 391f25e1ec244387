import assert from 'node:assert/strict';
import { jarPackages } from '../../src/packages/jar.js';
import { run } from '../harness/process.js';

/**
 * Spring Boot style jars made by Python's zipfile: its own pom.properties and one nested jar; and the
 * same with a second nested jar that is cut short.
 */
async function springJars(): Promise<[Buffer, Buffer]> {
  const script = `
import zipfile, io, sys, base64
def jar(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, data in entries: z.writestr(name, data)
    return buf.getvalue()
inner = jar([('META-INF/maven/org.yaml/snakeyaml/pom.properties', 'version=1.33\\ngroupId=org.yaml\\nartifactId=snakeyaml\\n' + '#' * 200)])
pom = ('META-INF/maven/com.example/app/pom.properties', 'groupId=com.example\\nartifactId=app\\nversion=2.0.0\\n' + '#' * 200)
outer = jar([pom, ('BOOT-INF/lib/snakeyaml-1.33.jar', inner)])
broken = jar([pom, ('BOOT-INF/lib/snakeyaml-1.33.jar', inner), ('BOOT-INF/lib/cut.jar', inner[:-30])])
print(base64.b64encode(outer).decode())
print(base64.b64encode(broken).decode())
`;
  const r = await run('python3', ['-c', script]);
  assert.equal(r.code, 0, r.stderr);
  const [good, broken] = r.stdout.trim().split('\n').map((line) => Buffer.from(line, 'base64'));
  assert.ok(good && broken);
  return [good, broken];
}

const names = (r: ReturnType<typeof jarPackages>): string[] => r.packages.map((p) => `${p.name}@${p.version}${p.inner ? ` in ${p.inner}` : ''}`);

describe('Java archives: what cannot be read is said, never listed as nothing', function () {
  let jar: Buffer;
  let withCutJar: Buffer;
  before(async () => {
    [jar, withCutJar] = await springJars();
  });

  it('lists the archive and its nested jar, with no problem', function () {
    const r = jarPackages(jar);
    assert.deepEqual(names(r), ['com.example:app@2.0.0', 'org.yaml:snakeyaml@1.33 in BOOT-INF/lib/snakeyaml-1.33.jar']);
    assert.deepEqual(r.problems, []);
  });

  it('says so for a cut-short archive (no end of central directory)', function () {
    const r = jarPackages(jar.subarray(0, jar.length - 30));
    assert.deepEqual(r.packages, []);
    assert.match(r.problems.join('\n'), /no zip end-of-central-directory record/);
  });

  it('says so for a ZIP64 archive', function () {
    const z64 = Buffer.from(jar);
    const eocd = z64.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    z64.writeUInt16LE(0xffff, eocd + 10);
    const r = jarPackages(z64);
    assert.deepEqual(r.packages, []);
    assert.match(r.problems.join('\n'), /ZIP64/);
  });

  it('names a member that does not inflate, and still lists the rest', function () {
    const broken = Buffer.from(jar);
    // The first member's deflate stream (its local header is at 0): overwrite its bytes with 0xff.
    const start = 30 + broken.readUInt16LE(26) + broken.readUInt16LE(28);
    broken.fill(0xff, start, start + 8);
    const r = jarPackages(broken);
    assert.deepEqual(names(r), ['org.yaml:snakeyaml@1.33 in BOOT-INF/lib/snakeyaml-1.33.jar']);
    assert.match(r.problems.join('\n'), /META-INF\/maven\/com\.example\/app\/pom\.properties cannot be read: it cannot be inflated/);
  });

  it('names the nested jar a problem is in', function () {
    const r = jarPackages(withCutJar);
    assert.deepEqual(names(r), ['com.example:app@2.0.0', 'org.yaml:snakeyaml@1.33 in BOOT-INF/lib/snakeyaml-1.33.jar']);
    assert.deepEqual(r.problems, ['BOOT-INF/lib/cut.jar: it has no zip end-of-central-directory record (not a zip, or cut short)']);
  });
});
