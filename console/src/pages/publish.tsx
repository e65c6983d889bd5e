/**
 * Publish by drag and drop (or a file chooser): POST /v1/uploads for a presigned URL, PUT the
 * bytes straight to S3 with XMLHttpRequest (fetch has no upload progress), then POST /v1/packages.
 */
import { useState } from 'preact/hooks';
import { ApiProblem, api, ok, toProblem } from '../api/client.ts';
import { ProblemAlert } from '../ui.tsx';

function putWithProgress(
  url: string,
  headers: Record<string, string>,
  file: File,
  onProgress: (n: number) => void,
) {
  return new Promise<void>((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('PUT', url);
    for (const [name, value] of Object.entries(headers)) {
      // The browser sets Content-Length itself and refuses it from scripts.
      if (name.toLowerCase() !== 'content-length') request.setRequestHeader(name, value);
    }
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(Math.round((event.loaded / event.total) * 100));
    };
    request.onload = () =>
      request.status >= 200 && request.status < 300
        ? resolve()
        : reject(
            new ApiProblem(
              'Upload failed',
              `The storage answered ${request.status}.`,
              request.status,
              'about:blank',
            ),
          );
    request.onerror = () =>
      reject(new ApiProblem('Upload failed', 'The upload did not reach the storage.', 0, 'about:blank'));
    request.send(file);
  });
}

export function PublishPanel({ onPublished }: { onPublished: () => void }) {
  const [progress, setProgress] = useState<number | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [published, setPublished] = useState<string[]>([]);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [over, setOver] = useState(false);
  const [busy, setBusy] = useState(false);

  async function publish(chosen: File) {
    setBusy(true);
    setProblem(null);
    setPublished([]);
    setProgress(0);
    try {
      const upload = await ok(
        api.POST('/v1/uploads', { body: { filename: chosen.name, size: chosen.size } }),
      );
      await putWithProgress(upload.url, upload.headers, chosen, setProgress);
      setProgress(100);
      const result = await ok(
        api.POST('/v1/packages', { body: { source: 'package', upload_id: upload.upload_id } }),
      );
      const ids =
        'packages' in result
          ? result.packages.map((pkg) => pkg.unique_identifier)
          : [result.unique_identifier];
      setPublished(ids);
      setFile(null);
      onPublished();
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="publish-title" class="panel">
      <h2 id="publish-title">Publish a package</h2>
      <section
        class={over ? 'dropzone over' : 'dropzone'}
        data-testid="dropzone"
        aria-label="Drop a package here"
        onDragOver={(event) => {
          event.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(event) => {
          event.preventDefault();
          setOver(false);
          const dropped = event.dataTransfer?.files[0];
          if (dropped) setFile(dropped);
        }}
      >
        <p>Drop a .difypkg or .difybndl here, or</p>
        <label>
          Choose a package file
          <input
            type="file"
            accept=".difypkg,.difybndl"
            onChange={(event) => setFile(event.currentTarget.files?.[0] ?? null)}
          />
        </label>
        {file !== null && (
          <p>
            Selected: <span class="mono">{file.name}</span> ({file.size} bytes)
          </p>
        )}
      </section>
      <button
        type="button"
        class="primary"
        disabled={file === null || busy}
        onClick={() => file && publish(file)}
      >
        Publish
      </button>
      {progress !== null && (
        <progress aria-label="Upload progress" max={100} value={progress}>
          {progress}%
        </progress>
      )}
      <ProblemAlert problem={problem} />
      {published.length > 0 && (
        <output aria-label="Published identifier" class="published">
          Published:{' '}
          {published.map((id) => (
            <code key={id}>{id}</code>
          ))}
        </output>
      )}
    </section>
  );
}
