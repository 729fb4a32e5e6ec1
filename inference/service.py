"""The gateway as a running service: everything the pipeline needs, started and stopped in order.

Start-up (any failure refuses to start, with a message naming the problem):

1. the policy (``--policy``, or in simulated mode the shipped one with demo authorities);
2. the classifier stack, checked against the policy's classifier manifest;
3. the quote provider (production refuses without configfs-tsm TDX);
4. the key store, the audit store and the log (restart reads O(1) state);
5. the backend (which must serve the policy's guard model, if it names one); a TLS key pair
   generated here; the claims and a start-up attestation;
6. ``startup``, ``policy`` and (for a new log key) ``key`` entries, durable before serving.

Stop: pending appends flushed, a ``shutdown`` entry and a last checkpoint written.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version as package_version

from audit_log import (
    AuditLog,
    AuditLogError,
    DataDir,
    EntryKind,
    FileKeyStore,
    LogStore,
    Mode,
    Receipt,
    TileCoord,
    open_store,
)
from disclosure import SessionHasher
from inference.attestation import (
    NONCE_SIZE,
    AttestationDocument,
    AttestationError,
    Attester,
    AuthorityKey,
    Claims,
    ClassifierArtefact,
    NonceStore,
    TlsIdentity,
    generate_tls_identity,
    select_provider,
)
from inference.backends import Backend, BackendError, make_backend
from inference.classifiers import (
    ArtefactRef,
    ClassifierConfig,
    ClassifierError,
    GuardLayer,
    SafetyClassifier,
    load_classifiers,
)
from inference.config import Settings
from inference.demo_authorities import materialise_demo_policy
from inference.disclosures import Discloser, session_secret
from inference.errors import ConfigError
from inference.guarding import ConversationGuard
from inference.pipeline import Pipeline
from inference.policy import Policy
from inference.recorder import VERDICT_TOPIC, AuditRecorder, signature_document
from inference.scoring import ClassifierScorer

log = logging.getLogger("veritee.gateway")

SERVICE_VERSION = package_version("veritee")
#: The start-up attestation uses this fixed nonce; callers get fresh ones from /v1/attestation.
STARTUP_NONCE = bytes(NONCE_SIZE)


def load_policy(settings: Settings) -> Policy:
    if settings.policy is not None:
        return Policy.load(settings.policy)
    if settings.mode is Mode.PRODUCTION:
        raise ConfigError("production mode needs an explicit --policy")
    return Policy.load(materialise_demo_policy(settings.data_dir))


def load_classifier_stack(policy: Policy) -> SafetyClassifier:
    """The classifier layers the policy enables, each artefact checked against its manifest."""
    settings = policy.model.classifiers
    manifest = tuple(ArtefactRef(e.id, e.version, e.sha256) for e in settings.manifest)
    try:
        return load_classifiers(
            ClassifierConfig(learned=settings.learned, embedding=settings.embedding, manifest=manifest)
        )
    except ClassifierError as exc:
        raise ConfigError(f"classifiers refused to load: {exc}") from exc


def load_guard(policy: Policy, backend: Backend) -> ConversationGuard | None:
    """The guard model the policy names, which the backend must serve; None when there is none."""
    settings = policy.model.classifiers
    if settings.guard_model is None:
        return None
    if settings.guard_model not in backend.models:
        raise ConfigError(
            f"the policy's guard model {settings.guard_model!r} is not served by the {backend.name} "
            f"backend (it serves {', '.join(backend.models)})"
        )
    return ConversationGuard(GuardLayer(backend, settings.guard_model), settings.guard_timeout_ms / 1000)


def model_sha256(backend: Backend) -> bytes:
    """What the claims say about the model: the backend's own identity digest."""
    identity = "\n".join((backend.name, *backend.models))
    return hashlib.sha256(identity.encode()).digest()


class Gateway:
    def __init__(
        self,
        *,
        settings: Settings,
        policy: Policy,
        log: AuditLog,
        backend: Backend,
        pipeline: Pipeline,
        tls: TlsIdentity,
        attester: Attester,
        startup_attestation: AttestationDocument,
        executor: concurrent.futures.Executor,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.mode = settings.mode
        self.policy = policy
        self.log = log
        self.backend = backend
        self.pipeline = pipeline
        self.tls = tls
        self.attester = attester
        self.startup_attestation = startup_attestation
        self.nonces = NonceStore(clock=clock)
        self.api_keys = settings.api_keys()
        self.version = SERVICE_VERSION
        self._executor = executor
        self._clock = clock
        self._checkpoint_lock = asyncio.Lock()
        self._published_at = time.monotonic()
        self._checkpointer: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    async def start(cls, settings: Settings, *, clock: Callable[[], float] = time.time) -> Gateway:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        policy = load_policy(settings)
        disclosure_policy = policy.disclosure_policy()
        classifier = load_classifier_stack(policy)
        try:
            provider = select_provider(settings.mode)
        except AttestationError as exc:
            raise ConfigError(f"no attestation provider for {settings.mode} mode: {exc}") from exc
        data = DataDir(settings.data_dir)
        try:
            keys = FileKeyStore(data.keys_dir, settings.mode)
            store: LogStore = open_store(settings.db or data.store_url)
            audit = AuditLog.open(store, keys, origin=settings.log_origin, clock=clock)
        except AuditLogError as exc:
            raise ConfigError(f"cannot open the audit log: {exc}") from exc
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="veritee-classify")
        try:
            backend = await make_backend(
                settings.backend,
                model=settings.model,
                upstream_url=settings.upstream,
                engine_options=settings.engine_options or None,
            )
        except BackendError as exc:
            await audit.aclose()
            raise ConfigError(f"cannot start the {settings.backend} backend: {exc}") from exc
        try:
            log_key = keys.log_key()
            tls = generate_tls_identity((settings.host,), now=datetime.fromtimestamp(clock(), tz=UTC))
            claims = Claims(
                mode=settings.mode,
                service_version=SERVICE_VERSION,
                log_origin=settings.log_origin,
                log_signing_key=audit.verifier.public_key.public_bytes_raw(),
                tls_spki_sha256=tls.spki_sha256,
                policy_sha256=bytes.fromhex(policy.sha256),
                classifiers=tuple(
                    ClassifierArtefact(r.id, r.version, bytes.fromhex(r.sha256)) for r in classifier.manifest
                ),
                model_sha256=model_sha256(backend),
                authority_keys=tuple(AuthorityKey(a.id, a.key_id) for a in disclosure_policy.authorities),
            )
            attester = Attester(provider, claims)
            startup_attestation = await asyncio.to_thread(attester.attest, STARTUP_NONCE)
            attestation_sha256 = startup_attestation.attestation_sha256.hex()
            discloser = Discloser(
                log=audit,
                policy=disclosure_policy,
                sessions=SessionHasher(session_secret(keys.storage_key())),
                mode=settings.mode,
                attestation_sha256=attestation_sha256,
                clock=clock,
            )
            scorer = ClassifierScorer(
                classifier,
                policy.model.classifiers.timeout_ms / 1000,
                executor,
                guard=load_guard(policy, backend),
            )
            pipeline = Pipeline(
                policy=policy,
                scorer=scorer,
                backend=backend,
                recorder=AuditRecorder(audit, settings.mode, discloser),
                clock=clock,
            )
            if log_key.newly_created:
                await audit.append(
                    EntryKind.KEY,
                    {
                        "log_key_id": log_key.key_id,
                        "vkey": audit.verifier.vkey,
                        "created_at_ms": log_key.created_at_ms,
                    },
                )
            await audit.append(
                EntryKind.STARTUP,
                {
                    "service_version": SERVICE_VERSION,
                    "mode": settings.mode.value,
                    "backend": backend.name,
                    "models": list(backend.models),
                    "log_key_id": log_key.key_id,
                    "tls_spki_sha256": tls.spki_sha256.hex(),
                    "attestation_sha256": attestation_sha256,
                },
            )
            await audit.append(
                EntryKind.POLICY,
                {
                    "policy_version": policy.version,
                    "policy_sha256": policy.sha256,
                    "classifiers": [
                        {"id": a.id, "version": a.version, "sha256": a.sha256.hex()}
                        for a in claims.classifiers
                    ],
                    "authority_key_ids": [
                        {"authority": a.authority, "key_id": a.key_id} for a in claims.authority_keys
                    ],
                },
            )
            await asyncio.to_thread(audit.publish_checkpoint)
        except BaseException:
            await backend.aclose()
            await audit.aclose()
            executor.shutdown(wait=False)
            raise
        gateway = cls(
            settings=settings,
            policy=policy,
            log=audit,
            backend=backend,
            pipeline=pipeline,
            tls=tls,
            attester=attester,
            startup_attestation=startup_attestation,
            executor=executor,
            clock=clock,
        )
        gateway._checkpointer = asyncio.create_task(gateway._publish_periodically())
        return gateway

    async def stop(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
        try:
            await self.log.append(EntryKind.SHUTDOWN, {"reason": "stop", "size_before": self.log.size})
            await asyncio.to_thread(self.log.publish_checkpoint)
        except AuditLogError as exc:
            log.error("could not write the shutdown entry: %s", type(exc).__name__)
        finally:
            await self.backend.aclose()
            await self.log.aclose()
            self._executor.shutdown(wait=False)

    async def _publish_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.checkpoint_interval)
            try:
                await self.current_checkpoint()
            except AuditLogError as exc:
                log.error("checkpoint publication failed: %s", type(exc).__name__)

    # -- read side ----------------------------------------------------------------------------

    @property
    def models(self) -> tuple[str, ...]:
        return self.backend.models

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def log_origin(self) -> str:
        return self.log.origin

    @property
    def database_label(self) -> str:
        return self.log.store_description

    def health(self) -> dict[str, object]:
        """Liveness as a load balancer needs it: "failing" whenever requests would be refused."""
        return {
            "status": "ok" if self.log.writable else "failing",
            "mode": self.mode.value,
            "service_version": self.version,
            "policy_version": self.policy.version,
            "policy_sha256": self.policy.sha256,
            "backend": self.backend.name,
            "log_size": self.log.size,
            "pending_appends": self.log.pending,
        }

    async def current_checkpoint(self) -> bytes:
        """The latest signed checkpoint; a new one is published if the tree has grown, at most once
        per checkpoint interval (so callers cannot make the TEE sign and store at will)."""
        async with self._checkpoint_lock:
            latest = self.log.latest_checkpoint_size
            due = time.monotonic() - self._published_at >= self.settings.checkpoint_interval
            if latest is None or (latest < self.log.size and due):
                note = await asyncio.to_thread(self.log.publish_checkpoint)
                self._published_at = time.monotonic()
                return note
            latest_note = self.log.latest_checkpoint()
            assert latest_note is not None
            return latest_note

    async def read_tile(self, coord: TileCoord) -> bytes:
        return await asyncio.to_thread(self.log.tile, coord)

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return await asyncio.to_thread(self.log.inclusion_proof, index, size)

    async def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return await asyncio.to_thread(self.log.consistency_proof, old, new)

    async def signature(self, verdict_id: str) -> dict[str, object] | None:
        """The signed verdict, its log index, leaf hash and (once a checkpoint covers it) a receipt."""
        record = await asyncio.to_thread(self.log.outbox_by_key, VERDICT_TOPIC, verdict_id)
        if record is None:
            return None
        note = await self.current_checkpoint()
        size = self.log.latest_checkpoint_size or 0
        receipt = None
        if record.entry_index < size:
            proof = await self.inclusion_proof(record.entry_index, size)
            receipt = Receipt(record.entry_index, tuple(proof), note).to_bytes()
        leaf = await asyncio.to_thread(self.log.leaf_hash, record.entry_index)
        return signature_document(record.payload, record.entry_index, leaf, receipt)
