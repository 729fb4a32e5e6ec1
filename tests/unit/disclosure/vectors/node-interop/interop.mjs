// Cross-implementation check of veritee's disclosure suites against libsodium-wrappers (sealed box)
// and hpke-js (X-Wing HPKE, the private key imported as the raw 32-byte X-Wing seed). Run by
// ../generate_node_interop.py: reads a JSON request on stdin, opens what Python sealed, seals anew.
import { Aes256Gcm, CipherSuite, HkdfSha256 } from "@hpke/core";
import { XWing } from "@hpke/hybridkem-x-wing";
import sodium from "libsodium-wrappers";

const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const unb64 = (text) => new Uint8Array(Buffer.from(text, "base64"));

async function main() {
  const request = JSON.parse(await new Promise((resolve) => {
    let data = "";
    process.stdin.on("data", (chunk) => (data += chunk));
    process.stdin.on("end", () => resolve(data));
  }));
  await sodium.ready;
  const box = request["x25519-sealedbox"];
  const boxPublic = unb64(box.public_key);
  const boxPrivate = unb64(box.private_key);
  const boxOpened = sodium.crypto_box_seal_open(unb64(box.python_ciphertext), boxPublic, boxPrivate);
  const boxFromNode = sodium.crypto_box_seal(unb64(box.plaintext), boxPublic);

  const xwing = request["hpke-xwing"];
  const suite = new CipherSuite({ kem: new XWing(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
  const recipientKey = await suite.kem.importKey("raw", unb64(xwing.private_key), false);
  const info = unb64(xwing.info);
  const ciphertext = unb64(xwing.python_ciphertext);
  const enc = ciphertext.slice(0, suite.kem.encSize);
  const xwingOpened = new Uint8Array(
    await suite.open({ recipientKey, enc, info }, ciphertext.slice(suite.kem.encSize)),
  );
  const recipientPublicKey = await suite.kem.deserializePublicKey(unb64(xwing.public_key));
  const sealed = await suite.seal({ recipientPublicKey, info }, unb64(xwing.plaintext));
  const xwingFromNode = new Uint8Array([...new Uint8Array(sealed.enc), ...new Uint8Array(sealed.ct)]);

  process.stdout.write(JSON.stringify({
    "x25519-sealedbox": { opened_python: b64(boxOpened), node_ciphertext: b64(boxFromNode) },
    "hpke-xwing": {
      opened_python: b64(xwingOpened),
      node_ciphertext: b64(xwingFromNode),
    },
  }));
}

main().catch((error) => {
  process.stderr.write(`interop failed: ${error}\n`);
  process.exit(1);
});
