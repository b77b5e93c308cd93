/**
 * The JSON the Durable extension binds to `df.input.durableClient()` and the management links it
 * returns. durable-functions reads taskHubName, creationUrls, managementUrls, baseUrl,
 * requiredQueryStringParameters and rpcBaseUrl (which, when present, it prefers for every call).
 */
export const WEBHOOK_PATH = '/runtime/webhooks/durabletask';
export const RPC_PATH = '/durabletask';
export const CONNECTION_NAME = 'Storage';

export interface ClientEndpoints {
  /** Origin of the host, e.g. http://127.0.0.1:7071 */
  baseUrl: string;
  taskHub: string;
  /** The durabletask_extension system key; the master key is accepted too. */
  systemKey: string;
}

export function managementUrls(endpoints: ClientEndpoints, instanceId: string): Record<string, string> {
  const base = `${endpoints.baseUrl}${WEBHOOK_PATH}`;
  const query = `taskHub=${encodeURIComponent(endpoints.taskHub)}&connection=${CONNECTION_NAME}&code=${endpoints.systemKey}`;
  const id = encodeURIComponent(instanceId);
  return {
    id: instanceId,
    statusQueryGetUri: `${base}/instances/${id}?${query}`,
    sendEventPostUri: `${base}/instances/${id}/raiseEvent/{eventName}?${query}`,
    terminatePostUri: `${base}/instances/${id}/terminate?reason={text}&${query}`,
    rewindPostUri: `${base}/instances/${id}/rewind?reason={text}&${query}`,
    purgeHistoryDeleteUri: `${base}/instances/${id}?${query}`,
    restartPostUri: `${base}/instances/${id}/restart?${query}`,
    suspendPostUri: `${base}/instances/${id}/suspend?reason={text}&${query}`,
    resumePostUri: `${base}/instances/${id}/resume?reason={text}&${query}`,
  };
}

export function clientBindingData(endpoints: ClientEndpoints): Record<string, unknown> {
  const base = `${endpoints.baseUrl}${WEBHOOK_PATH}`;
  const urls = managementUrls(endpoints, 'INSTANCEID');
  return {
    taskHubName: endpoints.taskHub,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?code=${endpoints.systemKey}`,
      waitOnNewInstancePostUri:
        `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}` +
        `&pollingInterval={intervalInSeconds}&code=${endpoints.systemKey}`,
    },
    managementUrls: { ...urls, id: 'INSTANCEID' },
    baseUrl: base,
    requiredQueryStringParameters: `code=${endpoints.systemKey}`,
    // The system key in the path: the local RPC endpoint requires it (localHost.ts) and the
    // library resolves every call relative to this URL, dropping any query.
    rpcBaseUrl: `${endpoints.baseUrl}${RPC_PATH}/${endpoints.systemKey}/`,
    httpBaseUrl: base,
    connectionName: CONNECTION_NAME,
    maxGrpcMessageSizeInBytes: 4 * 1024 * 1024,
    grpcHttpClientTimeout: '00:01:40',
  };
}
